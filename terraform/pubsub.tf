resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Messages carry object names and metadata only (no image data); Google-managed encryption is used. Add kms_key_name here where policy demands CMEK.
  for_each = local.topics

  project = var.project_id
  name    = each.value
  labels  = var.labels

  # Undelivered messages are kept as long as Pub/Sub allows by default (7 days).
  message_retention_duration = "604800s"

  depends_on = [google_project_service.api]
}

# The Cloud Storage service agent publishes the bucket's notifications.
resource "google_pubsub_topic_iam_member" "gcs_publishes_notifications" {
  project = var.project_id
  topic   = google_pubsub_topic.topic["notifications"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# Push notifications and tasks to the OCR function, authenticated with an OIDC token of its
# own service account. The function answers 2xx when done (or permanently failed: a failed
# result is written), and an error when the failure may pass: Pub/Sub then retries with
# exponential backoff, and after max_delivery_attempts moves the message to the
# dead-letter topic instead of retrying forever.
resource "google_pubsub_subscription" "ocr_push" {
  for_each = local.ocr_pushes

  project = var.project_id
  name    = each.value
  topic   = google_pubsub_topic.topic[each.key].id
  labels  = var.labels

  # For push, the ack deadline is also the request timeout: the function's own timeout.
  ack_deadline_seconds       = min(600, max(10, var.functions["ocr"].timeout))
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = module.ocr.uri
    oidc_token {
      service_account_email = google_service_account.pusher.email
    }
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead_letter"].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires for inactivity
  }

  depends_on = [
    google_pubsub_topic_iam_member.pubsub_agent_dead_letters,
    google_cloud_run_v2_service_iam_member.pusher_invokes_ocr,
  ]
}

# The upload function (POST /operations) and the OCR function (a plan's page ranges)
# publish operation tasks.
resource "google_pubsub_topic_iam_member" "task_publishers" {
  for_each = toset(["upload", "ocr"])

  project = var.project_id
  topic   = google_pubsub_topic.topic["tasks"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.fn[each.key].member
}

# Dead letters (of both subscriptions) are kept in a pull subscription, to inspect and replay
# (gcloud pubsub subscriptions pull <name> --auto-ack).
resource "google_pubsub_subscription" "dead_letters" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-dead-letters"
  topic                      = google_pubsub_topic.topic["dead_letter"].id
  labels                     = var.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering is done by the Pub/Sub service agent: it publishes to the dead-letter
# topic and acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.topic["dead_letter"].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_forwarded" {
  for_each = local.ocr_pushes

  project      = var.project_id
  subscription = google_pubsub_subscription.ocr_push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
