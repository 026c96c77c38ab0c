output "name" {
  value = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "The function's HTTPS URL (Cloud Run)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "source_object" {
  value = google_storage_bucket_object.source.name
}
