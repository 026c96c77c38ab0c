locals {
  data_buckets = {
    input   = { name = local.input_bucket, delete_after_days = var.input_retention_days }
    results = { name = local.results_bucket, delete_after_days = var.results_retention_days }
  }
}

# Input and results buckets. Results live in their own bucket so that writing one never
# fires the input bucket's notification (notifications filter by bucket only).
resource "google_storage_bucket" "data" {
  #checkov:skip=CKV_GCP_62:Usage-log buckets are legacy; object access is recorded by Cloud Audit Logs (enable Data Access logs for storage.googleapis.com where required).
  for_each = local.data_buckets

  project                     = var.project_id
  name                        = each.value.name
  location                    = local.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  # Versioned, so that an overwrite or a delete can be undone for a while.
  versioning {
    enabled = true
  }

  dynamic "lifecycle_rule" {
    for_each = each.value.delete_after_days > 0 ? [each.value.delete_after_days] : []
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "retention_policy" {
    for_each = var.retention_period_seconds > 0 ? [var.retention_period_seconds] : []
    content {
      retention_period = retention_policy.value
      is_locked        = false
    }
  }

  depends_on = [google_project_service.api]
}

# Function source archives, named by content hash.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Usage-log buckets are legacy; object access is recorded by Cloud Audit Logs.
  project                     = var.project_id
  name                        = local.source_bucket
  location                    = local.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # only build inputs, re-created from the repository
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Archives of earlier deploys are not needed once a build has used them.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# Every finalized object in the input bucket -> a message on the notifications topic.
resource "google_storage_notification" "input_finalized" {
  bucket         = google_storage_bucket.data["input"].name
  payload_format = "JSON_API_V1"
  topic          = google_pubsub_topic.topic["notifications"].id
  event_types    = ["OBJECT_FINALIZE"]

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes_notifications]
}
