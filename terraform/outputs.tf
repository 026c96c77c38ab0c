output "upload_url" {
  description = "Base URL of the upload function: POST $upload_url/extract-text"
  value       = module.upload.uri
}

output "results_url" {
  description = "Base URL of the results function: GET $results_url/results/<object name>"
  value       = module.results.uri
}

output "ocr_function_url" {
  description = "The OCR function (reachable from Pub/Sub only, with the default ingress)."
  value       = module.ocr.uri
}

output "input_bucket" {
  description = "Upload here (gsutil cp scan.jpg gs://<input_bucket>/) to have it OCRed."
  value       = google_storage_bucket.data["input"].name
}

output "results_bucket" {
  description = "Result documents: <object name>.json"
  value       = google_storage_bucket.data["results"].name
}

output "notification_topic" {
  value = google_pubsub_topic.topic["notifications"].name
}

output "tasks_topic" {
  description = "Tasks of long-running operations (TASKS_TOPIC of the upload and OCR functions)."
  value       = google_pubsub_topic.topic["tasks"].id
}

output "dead_letter_subscription" {
  description = "Notifications and tasks the OCR function failed on max_delivery_attempts times."
  value       = google_pubsub_subscription.dead_letters.name
}

output "service_accounts" {
  value = merge({ for k, sa in google_service_account.fn : k => sa.email }, {
    pusher = google_service_account.pusher.email
    build  = google_service_account.build.email
  })
}
