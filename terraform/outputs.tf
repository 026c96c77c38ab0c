output "base_url" {
  description = "The one base URL of the API (the front door): POST $base_url/extract-text, GET $base_url/results/<object name>, the page at $base_url/. Without front_door: the upload function's URL."
  value       = var.front_door ? local.base_url : module.upload.uri
}

output "front_door_address" {
  description = "The balancer's IP address: point the domain's A record here (null without front_door)."
  value       = var.front_door ? google_compute_global_address.front[0].address : null
}

output "function_urls" {
  description = "Each function's own Cloud Run URL. Behind the front door the HTTP functions refuse direct calls (ingress), and the OCR function takes Pub/Sub pushes only."
  value = {
    upload  = module.upload.uri
    results = module.results.uri
    ocr     = module.ocr.uri
  }
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
  value = merge({ for k in keys(local.functions) : k => google_service_account.fn[k].email }, {
    pusher = google_service_account.pusher.email
    build  = google_service_account.build.email
  })
}
