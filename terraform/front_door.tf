# One front door: a global external Application Load Balancer whose URL map sends the
# route table's paths (ocr_core/http/routes.py, written to routes.json by
# scripts/terraform_routes.py; a test holds the file to the table) to the upload and results
# functions through serverless NEGs. Cloud Armor limits each client across every instance;
# each instance's own token bucket (RATE_LIMIT_RPS) stays as a second line behind it.
locals {
  routes = jsondecode(file("${path.module}/routes.json"))
  # function -> LB path patterns ("/extract-text", "/results/*"), only for HTTP functions.
  route_paths = { for fn, paths in local.routes.paths : fn => paths if length(paths) > 0 }

  front_door_functions = var.front_door ? toset(keys(local.route_paths)) : toset([])
  https                = var.front_door && var.domain != ""
  base_url = !var.front_door ? "" : (
    local.https ? "https://${var.domain}" : "http://${google_compute_global_address.front[0].address}"
  )
  # Without the front door, the upload function points at the results function's own URL.
  results_base_url   = var.front_door ? local.base_url : module.results.uri
  trusted_proxy_hops = var.trusted_proxy_hops != null ? var.trusted_proxy_hops : (var.front_door ? 2 : 1)
}

resource "google_compute_global_address" "front" {
  count = var.front_door ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-front"
  labels  = var.labels

  depends_on = [google_project_service.api]
}

resource "google_compute_region_network_endpoint_group" "fn" {
  for_each = local.front_door_functions

  project               = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-${each.key}-neg"
  network_endpoint_type = "SERVERLESS"

  # A 2nd gen function is a Cloud Run service of the same name.
  cloud_run {
    service = local.function_names[each.key]
  }
}

resource "google_compute_backend_service" "fn" {
  for_each = local.front_door_functions

  project               = var.project_id
  name                  = "${var.name_prefix}-${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.edge[0].id

  backend {
    group = google_compute_region_network_endpoint_group.fn[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = var.lb_log_sample_rate
  }
}

# Paths of the route table go to their function; anything else goes to the upload
# function, which serves the page at "/" and answers any unknown path with the service's
# JSON 404 (the same answer as on the local stack).
resource "google_compute_url_map" "front" {
  count = var.front_door ? 1 : 0

  project         = var.project_id
  name            = "${var.name_prefix}-front"
  default_service = google_compute_backend_service.fn["upload"].id

  host_rule {
    hosts        = ["*"]
    path_matcher = "routes"
  }

  path_matcher {
    name            = "routes"
    default_service = google_compute_backend_service.fn["upload"].id

    dynamic "path_rule" {
      for_each = local.route_paths
      content {
        paths   = path_rule.value
        service = google_compute_backend_service.fn[path_rule.key].id
      }
    }
  }
}

# --- HTTPS with a managed certificate when a domain is given; plain HTTP on the address
# --- otherwise (for a first try: no certificate can be issued without a domain).

resource "google_compute_managed_ssl_certificate" "front" {
  count = local.https ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-front"

  managed {
    domains = [var.domain]
  }
}

resource "google_compute_ssl_policy" "front" {
  count = local.https ? 1 : 0

  project         = var.project_id
  name            = "${var.name_prefix}-front"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "front" {
  count = local.https ? 1 : 0

  project          = var.project_id
  name             = "${var.name_prefix}-front"
  url_map          = google_compute_url_map.front[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.front[0].id]
  ssl_policy       = google_compute_ssl_policy.front[0].id
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.https ? 1 : 0

  project               = var.project_id
  name                  = "${var.name_prefix}-front-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.front[0].id
  port_range            = "443"
  target                = google_compute_target_https_proxy.front[0].id
  labels                = var.labels
}

# Port 80: the API itself without a domain, a redirect to HTTPS with one.
resource "google_compute_url_map" "http_redirect" {
  count = local.https ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-front-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "front" {
  count = var.front_door ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-front-http"
  url_map = local.https ? google_compute_url_map.http_redirect[0].id : google_compute_url_map.front[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = var.front_door ? 1 : 0

  project               = var.project_id
  name                  = "${var.name_prefix}-front-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.front[0].id
  port_range            = "80"
  target                = google_compute_target_http_proxy.front[0].id
  labels                = var.labels
}

# --- Cloud Armor: one rate limit per client, shared by every instance behind the balancer.

resource "google_compute_security_policy" "edge" {
  count = var.front_door ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-edge"
  description = "Per-client rate limit in front of the OCR functions"
  type        = "CLOUD_ARMOR"

  # Log4Shell probes (CVE-2021-44228 and CVE-2021-45046): nothing here runs Java, but they
  # are cheap to refuse at the edge.
  rule {
    action      = "deny(403)"
    priority    = 900
    description = "Log4j exploit attempts"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  # Each client (by address, or by the value of a header such as X-API-Key) may send
  # edge_rate_limit.count requests per interval; more get a 429 until the interval passes.
  rule {
    action      = "throttle"
    priority    = 1000
    description = "Per-client rate limit"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action      = "allow"
      exceed_action       = "deny(429)"
      enforce_on_key      = var.edge_rate_limit.key
      enforce_on_key_name = var.edge_rate_limit.key == "HTTP_HEADER" ? var.edge_rate_limit.header : null
      rate_limit_threshold {
        count        = var.edge_rate_limit.count
        interval_sec = var.edge_rate_limit.interval_sec
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Everything within the limits"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.api]
}

# Without a domain nobody can tell clients apart by a certificate, and with the front door
# the functions must let the balancer in (allUsers on ingress internal-and-gclb): the API
# keys are then what stands between the internet and the engine.
check "front_door_has_api_keys" {
  assert {
    condition     = !var.front_door || var.api_keys_secret != "" || var.allow_unauthenticated
    error_message = "front_door without api_keys_secret: anyone who reaches the balancer may call the API. Set api_keys_secret, or allow_unauthenticated = true to mean it."
  }
}
