# One service account per function, each allowed only what its code does.
resource "google_service_account" "fn" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.key}-fn"
  display_name = "OCR pipeline: ${each.key} function"

  depends_on = [google_project_service.api]
}

locals {
  # (function, bucket, role): the whole of the functions' storage access.
  #  upload:  creates new objects in the input bucket (?mode=async; never overwrites) and
  #           lists them (POST /operations); writes operation records (results bucket).
  #  ocr:     reads input objects; reads, creates and replaces result documents, shards
  #           and operation records.
  #  results: reads input objects (pending or not), result documents and operations.
  # No role is granted for Cloud Vision: the API is enabled in this project and called by
  # the function's own identity, billed to the project.
  bucket_grants = {
    "upload-input-create"  = { fn = "upload", bucket = "input", role = "roles/storage.objectCreator" }
    "upload-input-read"    = { fn = "upload", bucket = "input", role = "roles/storage.objectViewer" }
    "upload-results-write" = { fn = "upload", bucket = "results", role = "roles/storage.objectUser" }
    "ocr-input-read"       = { fn = "ocr", bucket = "input", role = "roles/storage.objectViewer" }
    "ocr-results-write"    = { fn = "ocr", bucket = "results", role = "roles/storage.objectUser" }
    "results-input-read"   = { fn = "results", bucket = "input", role = "roles/storage.objectViewer" }
    "results-results-read" = {
      fn = "results", bucket = "results", role = "roles/storage.objectViewer"
    }
  }
}

resource "google_storage_bucket_iam_member" "fn" {
  for_each = local.bucket_grants

  bucket = google_storage_bucket.data[each.value.bucket].name
  role   = each.value.role
  member = google_service_account.fn[each.value.fn].member
}

# Pub/Sub pushes to the OCR function as this identity; it may invoke that function only.
resource "google_service_account" "pusher" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-ocr-pusher"
  display_name = "OCR pipeline: Pub/Sub push to the OCR function"

  depends_on = [google_project_service.api]
}

resource "google_cloud_run_v2_service_iam_member" "pusher_invokes_ocr" {
  project  = var.project_id
  location = var.region
  name     = module.ocr.name
  role     = "roles/run.invoker"
  member   = google_service_account.pusher.member
}

# Pub/Sub mints the push's OIDC tokens for the pusher account (needed in projects created
# before April 2021; harmless after).
resource "google_service_account_iam_member" "pubsub_agent_mints_tokens" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Builds of the function sources run as their own account rather than the default compute
# account (which new projects no longer grant builds to), with what a function build does:
# read the staged source (Cloud Run functions copies it to its gcf-v2-sources-* bucket),
# push the image to the gcf-artifacts repository, write build logs. The first two are
# narrowed by IAM conditions to those resources, which the platform creates itself.
locals {
  build_roles = {
    logs = { role = "roles/logging.logWriter", title = "", expression = "" }
    sources = {
      role       = "roles/storage.objectViewer"
      title      = "function sources only"
      expression = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${local.project_number}-\")"
    }
    images = {
      role       = "roles/artifactregistry.writer"
      title      = "function images only"
      expression = "resource.name.startsWith(\"projects/${var.project_id}/locations/${var.region}/repositories/gcf-artifacts\")"
    }
  }
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "OCR pipeline: function builds"

  depends_on = [google_project_service.api]
}

resource "google_project_iam_member" "build" {
  for_each = local.build_roles

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.build.member

  dynamic "condition" {
    for_each = each.value.expression != "" ? [each.value] : []
    content {
      title      = condition.value.title
      expression = condition.value.expression
    }
  }
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# Who may call the HTTP functions: everyone, or the listed principals. Behind the front
# door the balancer forwards requests without an identity, so the HTTP functions must take
# allUsers; their ingress (internal and load balancer only) keeps direct calls out, and the
# API keys and Cloud Armor decide who gets through.
locals {
  http_functions = ["upload", "results"]
  invokers = merge(
    var.allow_unauthenticated || var.front_door ? { for fn in local.http_functions : "${fn}/allUsers" => { fn = fn, member = "allUsers" } } : {},
    { for pair in setproduct(local.http_functions, var.invoker_members) : "${pair[0]}/${pair[1]}" => { fn = pair[0], member = pair[1] } },
  )
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  name     = local.function_names[each.value.fn]
  role     = "roles/run.invoker"
  member   = each.value.member
}

# The HTTP functions read the API keys secret (only when one is configured).
resource "google_secret_manager_secret_iam_member" "api_keys" {
  for_each = var.api_keys_secret == "" ? toset([]) : toset(["upload", "results"])

  project   = var.project_id
  secret_id = var.api_keys_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.key].email}"

  depends_on = [google_project_service.api]
}
