# One Cloud Run function (2nd gen) from the source archive `make package` built
# (scripts/package_functions.py): the function's own files at its root and the core package
# beside them. Terraform never reads the archive's content as text: it uploads the file and
# names the object by the archive's sha256, which the variable's validation checks.

# Named by content hash: unchanged code keeps its object name, so the function is neither
# rebuilt nor redeployed; changed code gets a new name, which redeploys it.
resource "google_storage_bucket_object" "source" {
  bucket       = var.source_bucket
  name         = "${var.name}/${var.archive_sha256}.zip"
  source       = var.archive_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.sizing.memory
    available_cpu                    = var.sizing.cpu
    timeout_seconds                  = var.sizing.timeout
    max_instance_request_concurrency = var.sizing.concurrency
    min_instance_count               = var.sizing.min_instances
    max_instance_count               = var.sizing.max_instances
    service_account_email            = var.service_account_email
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = var.environment

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }
}
