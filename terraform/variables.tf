variable "project_id" {
  description = "The Google Cloud project to deploy into (must have billing enabled)."
  type        = string
}

variable "region" {
  description = "Region of the functions and the Pub/Sub wiring."
  type        = string
  default     = "us-central1"
}

variable "bucket_location" {
  description = "Location of the buckets; empty means the region above."
  type        = string
  default     = ""
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, topics, service accounts)."
  type        = string
  default     = "ocr"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix: 2-15 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "input_bucket_name" {
  description = "Name of the input bucket; empty means <project_id>-<name_prefix>-input."
  type        = string
  default     = ""
}

variable "results_bucket_name" {
  description = "Name of the results bucket; empty means <project_id>-<name_prefix>-results."
  type        = string
  default     = ""
}

variable "input_retention_days" {
  description = "Objects in the input bucket are deleted this many days after upload (0: never)."
  type        = number
  default     = 30
}

variable "results_retention_days" {
  description = "Result documents are deleted this many days after they were written (0: never)."
  type        = number
  default     = 90
}

variable "noncurrent_retention_days" {
  description = "Overwritten or deleted object versions are kept this many days (buckets are versioned)."
  type        = number
  default     = 7
}

variable "retention_period_seconds" {
  description = "Optional bucket retention policy on both buckets: objects cannot be deleted or replaced before this age (0: none). Irreversible once locked; it is not locked here."
  type        = number
  default     = 0
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects."
  type        = bool
  default     = false
}

variable "allow_unauthenticated" {
  description = "true: anyone on the internet may call the upload and results functions. false: only invoker_members (with an identity token), unless front_door is on, which needs allUsers behind the balancer (see front_door)."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "Principals allowed to call the upload and results functions, e.g. [\"user:me@example.com\"]."
  type        = list(string)
  default     = []
}

variable "ocr_engine" {
  description = "OCR_ENGINE of the upload and OCR functions: vision (Cloud Vision) in the cloud, or tesseract."
  type        = string
  default     = "vision"

  validation {
    condition     = contains(["vision", "tesseract"], var.ocr_engine)
    error_message = "ocr_engine must be vision or tesseract."
  }
}

variable "vision_endpoint" {
  description = "Cloud Vision endpoint; empty for the global one, e.g. eu-vision.googleapis.com to keep images in the EU."
  type        = string
  default     = ""
}

variable "max_upload_bytes" {
  description = "MAX_UPLOAD_BYTES: largest accepted image."
  type        = number
  default     = 10485760
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"
}

variable "runtime" {
  description = "Cloud Run functions runtime."
  type        = string
  default     = "python312"
}

variable "functions" {
  description = "Sizing of each function: memory (e.g. 512Mi), cpu (vCPUs as a string; concurrency above 1 needs at least 1), timeout in seconds, concurrency (requests per instance), min and max instances."
  type = map(object({
    memory        = string
    cpu           = string
    timeout       = number
    concurrency   = number
    min_instances = number
    max_instances = number
  }))
  default = {
    upload  = { memory = "1Gi", cpu = "1", timeout = 120, concurrency = 8, min_instances = 0, max_instances = 10 }
    ocr     = { memory = "2Gi", cpu = "2", timeout = 540, concurrency = 4, min_instances = 0, max_instances = 10 }
    results = { memory = "512Mi", cpu = "1", timeout = 30, concurrency = 40, min_instances = 0, max_instances = 10 }
  }

  validation {
    condition     = alltrue([for name in ["upload", "ocr", "results"] : contains(keys(var.functions), name)])
    error_message = "functions must size upload, ocr and results."
  }
}

variable "extra_env" {
  description = "More environment variables per function (keys: upload, ocr, results), merged over the defaults, e.g. { ocr = { MAX_IMAGE_PIXELS = \"80000000\" } }."
  type        = map(map(string))
  default     = {}

  # Only settings the code reads (ocr_core/config.py; the tests hold this list to it).
  validation {
    condition = alltrue(flatten([
      for fn, env in var.extra_env : [
        for name in keys(env) : contains([
          "OCR_ENGINE", "OCR_LANG", "INPUT_BUCKET", "RESULTS_BUCKET", "RESULTS_PREFIX",
          "MAX_UPLOAD_BYTES", "MAX_IMAGE_PIXELS", "ENGINE_THREADS", "RESULTS_BASE_URL",
          "LOG_LEVEL", "VISION_ENDPOINT", "TESSDATA_PREFIX", "MAX_DOCUMENT_BYTES",
          "MAX_DOCUMENT_PAGES", "DOCUMENT_SHARD_PAGES", "PDF_RENDER_DPI",
          "DOCUMENT_PAGE_MAX_PIXELS", "PDF_USE_TEXT_LAYER", "MAX_OPERATION_OBJECTS",
          "MAX_BATCH_ITEMS", "MAX_BATCH_BYTES", "RATE_LIMIT_RPS", "RATE_LIMIT_BURST",
          "EVENT_MAX_AGE_S", "CACHE_MAX_ENTRIES", "CACHE_MAX_BYTES", "BODY_READ_TIMEOUT_S",
          "ENGINE_PRELOAD", "WORKERS", "THREADS", "OUTPUT_FORMATS",
        ], name)
      ]
    ]))
    error_message = "extra_env: unknown variable name; see the configuration table in README.md."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one storage notification to the OCR function before it goes to the dead-letter topic (5-100)."
  type        = number
  default     = 5
}

variable "retry_minimum_backoff" {
  description = "Pub/Sub push retry: first delay after a failed delivery."
  type        = string
  default     = "10s"
}

variable "retry_maximum_backoff" {
  description = "Pub/Sub push retry: longest delay between deliveries."
  type        = string
  default     = "600s"
}

variable "ocr_ingress" {
  description = "Ingress of the OCR function. Pub/Sub push from this project counts as internal traffic, so nothing else can reach it."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}

variable "labels" {
  description = "Labels put on every resource that takes them."
  type        = map(string)
  default     = { app = "ocr-pipeline" }
}

variable "api_keys_secret" {
  description = "Secret Manager secret id (in this project) whose latest version holds the API keys the upload and results functions accept, comma-separated, plain or sha256:<hex>. Empty: no key check, Cloud Run IAM alone."
  type        = string
  default     = ""
}

variable "trusted_proxy_hops" {
  description = "X-Forwarded-For entries added by proxies we trust, counted from the right; null: 2 behind the front door (the balancer appends <client>, <balancer>), 1 without it (Cloud Run's front end). Rate limits key on the client address this yields."
  type        = number
  default     = null
}

variable "front_door" {
  description = "Serve the API through one global external Application Load Balancer (serverless NEGs, Cloud Armor). true makes the HTTP functions' ingress internal-and-load-balancer only."
  type        = bool
  default     = true
}

variable "domain" {
  description = "Domain of the front door (its DNS A record must point at the front_door_address output); empty: plain HTTP on the address, no certificate."
  type        = string
  default     = ""
}

variable "edge_rate_limit" {
  description = "Cloud Armor's per-client limit at the front door: count requests per interval_sec, keyed on the client address (key = IP) or on a header's value (key = HTTP_HEADER, header = X-API-Key)."
  type = object({
    count        = number
    interval_sec = number
    key          = optional(string, "IP")
    header       = optional(string, "X-API-Key")
  })
  default = { count = 600, interval_sec = 60 }

  validation {
    condition     = contains(["IP", "HTTP_HEADER", "XFF_IP", "ALL"], var.edge_rate_limit.key) && contains([10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600], var.edge_rate_limit.interval_sec)
    error_message = "edge_rate_limit: key IP, HTTP_HEADER, XFF_IP or ALL; interval_sec one of Cloud Armor's (10, 30, 60, ... 3600)."
  }
}

variable "lb_log_sample_rate" {
  description = "Share of requests the front door logs (0..1)."
  type        = number
  default     = 1
}

variable "alert_notification_channels" {
  description = "Monitoring notification channel ids the alert policies notify (empty: the alerts show in the console only)."
  type        = list(string)
  default     = []
}

variable "alert_thresholds" {
  description = "When the alert policies fire: dead letters waiting, 5xx answers per second (all functions), and the OCR function's 95th-percentile request latency in ms, each held for duration_s."
  type = object({
    dead_letters    = optional(number, 0)
    errors_5xx_rps  = optional(number, 0.5)
    ocr_latency_p95 = optional(number, 60000)
    duration_s      = optional(number, 300)
  })
  default = {}
}
