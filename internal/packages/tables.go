package packages

import "sort"

// Category is an entry of the project's category table (categoryTable; /categories
// reports its titles and parents, docs/epr-api.md §3).
// Parent is "" for a top-level category; subcategories are one level deep.
type Category struct {
	ID     string
	Title  string
	Parent string
}

// categoryTable is the project's source of truth for category ids, titles
// and parents; keep its order stable so changes are easy to review.
// Categories returns it sorted by id.
var categoryTable = []Category{
	{ID: "aws", Title: "AWS", Parent: ""},
	{ID: "azure", Title: "Azure", Parent: ""},
	{ID: "cloud", Title: "Cloud", Parent: ""},
	{ID: "config_management", Title: "Config management", Parent: ""},
	{ID: "containers", Title: "Containers", Parent: ""},
	{ID: "crm", Title: "CRM", Parent: ""},
	{ID: "custom", Title: "Custom", Parent: ""},
	{ID: "custom_logs", Title: "Custom Logs", Parent: "custom"},
	{ID: "datastore", Title: "Database", Parent: ""},
	{ID: "elastic_stack", Title: "Elastic Stack", Parent: ""},
	{ID: "elasticsearch_sdk", Title: "Elasticsearch SDK", Parent: ""},
	{ID: "enterprise_search", Title: "Enterprise Search", Parent: ""},
	{ID: "app_search", Title: "Application Search", Parent: "enterprise_search"},
	{ID: "connector", Title: "Connector", Parent: "enterprise_search"},
	{ID: "connector_client", Title: "Connector Client", Parent: "enterprise_search"},
	{ID: "connector_package", Title: "Connector Package", Parent: "enterprise_search"},
	{ID: "content_source", Title: "Content Source", Parent: "enterprise_search"},
	{ID: "crawler", Title: "Crawler", Parent: "enterprise_search"},
	{ID: "language_client", Title: "Language Client", Parent: "enterprise_search"},
	{ID: "native_search", Title: "Native Search", Parent: "enterprise_search"},
	{ID: "sdk_search", Title: "SDK", Parent: "enterprise_search"},
	{ID: "workplace_search", Title: "Workplace Search", Parent: "enterprise_search"},
	{ID: "google_cloud", Title: "Google Cloud", Parent: ""},
	{ID: "infrastructure", Title: "Infrastructure", Parent: ""},
	{ID: "languages", Title: "Languages", Parent: ""},
	{ID: "network", Title: "Network", Parent: ""},
	{ID: "observability", Title: "Observability", Parent: ""},
	{ID: "application_observability", Title: "Application", Parent: "observability"},
	{ID: "analytics_engine", Title: "Analytics Engine", Parent: "observability"},
	{ID: "big_data", Title: "Big Data", Parent: "observability"},
	{ID: "java_observability", Title: "Java", Parent: "observability"},
	{ID: "kubernetes", Title: "Kubernetes", Parent: "observability"},
	{ID: "load_balancer", Title: "Load Balancer", Parent: "observability"},
	{ID: "message_queue", Title: "Message Broker", Parent: "observability"},
	{ID: "monitoring", Title: "Monitoring", Parent: "observability"},
	{ID: "notification", Title: "Notification", Parent: "observability"},
	{ID: "process_manager", Title: "Process Manager", Parent: "observability"},
	{ID: "stream_processing", Title: "Stream Processing", Parent: "observability"},
	{ID: "virtualization", Title: "Virtualization Platform", Parent: "observability"},
	{ID: "web", Title: "Web Server", Parent: "observability"},
	{ID: "websphere", Title: "WebSphere Application Server", Parent: "observability"},
	{ID: "opentelemetry", Title: "OpenTelemetry", Parent: ""},
	{ID: "os_system", Title: "Operating Systems", Parent: ""},
	{ID: "productivity", Title: "Productivity", Parent: ""},
	{ID: "security", Title: "Security", Parent: ""},
	{ID: "advanced_analytics_ueba", Title: "Advanced Analytics (UEBA)", Parent: "security"},
	{ID: "asset_inventory", Title: "Asset Inventory", Parent: "security"},
	{ID: "auditd", Title: "AuditD", Parent: "security"},
	{ID: "authentication", Title: "Authentication", Parent: "security"},
	{ID: "cdn_security", Title: "Content Delivery Network", Parent: "security"},
	{ID: "cloudsecurity_cdr", Title: "Cloud Security/CDR", Parent: "security"},
	{ID: "credential_management", Title: "Credential Management", Parent: "security"},
	{ID: "database_security", Title: "Database", Parent: "security"},
	{ID: "dns_security", Title: "DNS", Parent: "security"},
	{ID: "edr_xdr", Title: "EDR/XDR", Parent: "security"},
	{ID: "email_security", Title: "Email", Parent: "security"},
	{ID: "firewall_security", Title: "Firewall", Parent: "security"},
	{ID: "iam", Title: "Identity and Access Management", Parent: "security"},
	{ID: "ids_ips", Title: "IDS/IPS", Parent: "security"},
	{ID: "misconfiguration_workflow", Title: "Misconfiguration Workflow", Parent: "security"},
	{ID: "network_security", Title: "Network", Parent: "security"},
	{ID: "productivity_security", Title: "Productivity", Parent: "security"},
	{ID: "proxy_security", Title: "Proxy", Parent: "security"},
	{ID: "siem", Title: "SIEM", Parent: "security"},
	{ID: "threat_intel", Title: "Threat Intelligence", Parent: "security"},
	{ID: "vpn_security", Title: "VPN", Parent: "security"},
	{ID: "vulnerability_management", Title: "Vulnerability Management", Parent: "security"},
	{ID: "vulnerability_workflow", Title: "Vulnerability Workflow", Parent: "security"},
	{ID: "web_application_firewall", Title: "Web Application Firewall", Parent: "security"},
	{ID: "support", Title: "Support", Parent: ""},
	{ID: "ticketing", Title: "Ticketing", Parent: ""},
	{ID: "version_control", Title: "Version Control", Parent: ""},
}

// ingestionMethods maps an input type to the ingestion method Fleet shows.
var ingestionMethods = map[string]string{
	"activemq/metrics":         "Jolokia",
	"apache/metrics":           "API",
	"aws-cloudwatch":           "AWS CloudWatch",
	"aws-s3":                   "AWS S3",
	"aws/metrics":              "API",
	"awsfargate/metrics":       "API",
	"azure-blob-storage":       "Azure Blob Storage",
	"azure-eventhub":           "Azure Event Hub",
	"azure/metrics":            "API",
	"cel":                      "API",
	"containerd/metrics":       "API",
	"docker/metrics":           "API",
	"elasticsearch/metrics":    "API",
	"enterprisesearch/metrics": "API",
	"entity-analytics":         "API",
	"etcd/metrics":             "API",
	"etw":                      "ETW",
	"filestream":               "File",
	"gcp-pubsub":               "GCP Pub/Sub",
	"gcp/metrics":              "API",
	"gcs":                      "Google Cloud Storage",
	"haproxy/metrics":          "API",
	"http/metrics":             "API",
	"http_endpoint":            "Webhook",
	"httpjson":                 "API",
	"iis/metrics":              "Windows Performance Counters",
	"jolokia/metrics":          "Jolokia",
	"journald":                 "journald",
	"kafka":                    "Kafka",
	"kafka/metrics":            "Jolokia",
	"kibana/metrics":           "API",
	"kubernetes/metrics":       "API",
	"linux/metrics":            "File",
	"logfile":                  "File",
	"logstash/metrics":         "API",
	"lumberjack":               "Lumberjack",
	"memcached/metrics":        "Database",
	"meraki/metrics":           "API",
	"mongodb/metrics":          "Database",
	"mysql/metrics":            "Database",
	"nats/metrics":             "API",
	"netflow":                  "NetFlow",
	"nginx/metrics":            "API",
	"o365audit":                "API",
	"panw/metrics":             "API",
	"postgresql/metrics":       "Database",
	"prometheus/metrics":       "Prometheus",
	"rabbitmq/metrics":         "API",
	"redis":                    "Database",
	"redis/metrics":            "Database",
	"salesforce":               "API",
	"sql/metrics":              "Database",
	"stan/metrics":             "API",
	"statsd/metrics":           "Network Protocol",
	"streaming":                "API",
	"syslog":                   "Network Protocol",
	"system/metrics":           "File",
	"tcp":                      "Network Protocol",
	"udp":                      "Network Protocol",
	"vsphere/metrics":          "API",
	"websocket":                "API",
	"windows/metrics":          "API",
	"winlog":                   "API",
	"zookeeper/metrics":        "Database",
}

var categoriesByID = func() map[string]Category {
	m := make(map[string]Category, len(categoryTable))
	for _, c := range categoryTable {
		m[c.ID] = c
	}
	return m
}()

// Categories returns a copy of the category table sorted by id, the order
// /categories uses.
func Categories() []Category {
	out := append([]Category(nil), categoryTable...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupCategory reports the table entry for id.
func LookupCategory(id string) (Category, bool) {
	c, ok := categoriesByID[id]
	return c, ok
}

// IsSubcategory reports whether id is parent itself or one of its children,
// the match rule of the /search category filter.
func IsSubcategory(id, parent string) bool {
	if id == parent {
		return true
	}
	c, ok := categoriesByID[id]
	return ok && c.Parent == parent
}

// IngestionMethod reports the ingestion method of an input type, if the
// table maps it.
func IngestionMethod(inputType string) (string, bool) {
	m, ok := ingestionMethods[inputType]
	return m, ok
}
