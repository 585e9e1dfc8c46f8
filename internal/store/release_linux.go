package store

import "syscall"

// releaseMapping is madvise(MADV_DONTNEED) over a shared file mapping: its pages leave the
// process, and the next access maps them again from the file.
func releaseMapping(addr uintptr, size int64) error {
	if size <= 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
