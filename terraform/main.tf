# OCR pipeline on Google Cloud: buckets, the storage notification -> Pub/Sub -> OCR function
# wiring, three Cloud Run functions (2nd gen) and their service accounts.
#
# Trigger choice: a Cloud Storage notification to a Pub/Sub topic, pushed by a subscription
# that this configuration owns, rather than an Eventarc finalize trigger. Both are Pub/Sub
# underneath, but only an own subscription exposes the dead-letter policy, the retry
# backoff and the ack deadline (Eventarc manages its subscription itself), and it is
# exactly the chain the emulator tests run (fake-gcs-server notifications -> Pub/Sub
# emulator push -> the OCR function), so what is tested locally is what is deployed.

data "google_project" "this" {
  project_id = var.project_id
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

locals {
  project_number = data.google_project.this.number
  location       = var.bucket_location != "" ? var.bucket_location : upper(var.region)
  input_bucket   = var.input_bucket_name != "" ? var.input_bucket_name : "${var.project_id}-${var.name_prefix}-input"
  results_bucket = var.results_bucket_name != "" ? var.results_bucket_name : "${var.project_id}-${var.name_prefix}-results"
  source_bucket  = "${var.project_id}-${var.name_prefix}-sources"

  pubsub_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Topics by role: storage notifications, the tasks of long-running operations (document
  # plans and page ranges, which fan a long PDF out over many OCR instances), and the dead
  # letters of both push subscriptions.
  topics = {
    notifications = "${var.name_prefix}-input-finalized"
    tasks         = "${var.name_prefix}-tasks"
    dead_letter   = "${var.name_prefix}-dead-letter"
  }

  # Push subscriptions to the OCR function, which takes storage notifications and tasks
  # alike (ocr_core/jobs/dispatch.py tells them apart by the message attributes).
  ocr_pushes = {
    notifications = "${var.name_prefix}-ocr-push"
    tasks         = "${var.name_prefix}-tasks-push"
  }

  # The three functions: folder under functions/, entry point in its main.py.
  functions = {
    upload  = { entry_point = "extract_text", description = "POST /extract-text: inline OCR, async uploads into the input bucket" }
    ocr     = { entry_point = "on_object_finalized", description = "Storage notification (Pub/Sub push) -> OCR -> result document" }
    results = { entry_point = "get_result", description = "GET /results/<object name>" }
  }

  # Environment variables: names are the settings ocr_core/config.py reads (tests check it).
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id # logs: the project of the trace ids
    STORAGE_BACKEND      = "gcs"
    INPUT_BUCKET         = local.input_bucket
    RESULTS_BUCKET       = local.results_bucket
    MAX_UPLOAD_BYTES     = tostring(var.max_upload_bytes)
    LOG_LEVEL            = var.log_level
    TRUSTED_PROXY_HOPS   = tostring(local.trusted_proxy_hops)
  }
  # API keys come from Secret Manager, never from plain variables (they would sit in state).
  http_secret_env = var.api_keys_secret == "" ? {} : { API_KEYS = var.api_keys_secret }
  engine_env = {
    OCR_ENGINE      = var.ocr_engine
    VISION_ENDPOINT = var.vision_endpoint
  }
  # Upload (POST /operations) and OCR (plans -> page ranges) publish operation tasks.
  tasks_env = {
    TASK_QUEUE  = "pubsub"
    TASKS_TOPIC = google_pubsub_topic.topic["tasks"].id
  }
  # Workers follow each function's size: one engine instance per vCPU (os.cpu_count() can
  # report the host's cores on Cloud Run), and one functions-framework (gunicorn) thread
  # per request the instance is allowed at once, in one process so the model loads once.
  sizing_env = {
    for name, size in var.functions : name => {
      ENGINE_THREADS = tostring(max(1, ceil(tonumber(size.cpu))))
      THREADS        = tostring(max(1, size.concurrency))
    }
  }
  function_env = {
    upload = merge(local.common_env, local.engine_env, local.tasks_env, local.sizing_env.upload, {
      RESULTS_BASE_URL = local.results_base_url
    }, lookup(var.extra_env, "upload", {}))
    ocr     = merge(local.common_env, local.engine_env, local.tasks_env, local.sizing_env.ocr, lookup(var.extra_env, "ocr", {}))
    results = merge(local.common_env, { THREADS = local.sizing_env.results.THREADS }, lookup(var.extra_env, "results", {}))
  }

  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "vision.googleapis.com",
  ]
}

resource "google_project_service" "api" {
  for_each = toset(local.apis)

  project = var.project_id
  service = each.value
  # Leave APIs on at destroy: other things in the project may use them.
  disable_on_destroy = false
}
