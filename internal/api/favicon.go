package api

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
)

// favicon is a 16x16 icon drawn at start-up (a dark square with a light
// package-box outline) and wrapped in an ICO container holding one PNG
// image, which every current browser accepts.
var favicon = func() []byte {
	const n = 16
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	bg := color.NRGBA{0x1b, 0x4f, 0x72, 0xff}
	fg := color.NRGBA{0xf4, 0xd0, 0x3f, 0xff}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			c := bg
			inBox := x >= 3 && x <= 12 && y >= 4 && y <= 12
			edge := x == 3 || x == 12 || y == 4 || y == 12 || y == 7
			if inBox && edge {
				c = fg
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		panic(err)
	}
	var ico bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), one image.
	_ = binary.Write(&ico, binary.LittleEndian, [3]uint16{0, 1, 1})
	// ICONDIRENTRY: width, height, palette size, reserved, planes, bits per
	// pixel, data size, data offset (6 + 16 bytes of headers).
	ico.Write([]byte{n, n, 0, 0})
	_ = binary.Write(&ico, binary.LittleEndian, [2]uint16{1, 32})
	_ = binary.Write(&ico, binary.LittleEndian, [2]uint32{uint32(pngBuf.Len()), 22})
	ico.Write(pngBuf.Bytes())
	return ico.Bytes()
}()
