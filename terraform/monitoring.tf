# Alert policies: messages the OCR function gave up on, 5xx answers, slow OCR.
locals {
  alert_duration = "${var.alert_thresholds.duration_s}s"
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: dead letters waiting"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  documentation {
    content   = "Storage notifications or tasks failed max_delivery_attempts times and sit in ${google_pubsub_subscription.dead_letters.name}. Inspect: gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letters.name} --limit 10 (docs/deploy.md says how to replay them)."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "undelivered dead letters > ${var.alert_thresholds.dead_letters}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letters.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.dead_letters
      duration        = local.alert_duration
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "errors_5xx" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: 5xx answers"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  documentation {
    content   = "The functions answer 5xx (engine or storage unavailable, or a bug). Logs: resource.type=\"cloud_run_revision\" severity>=ERROR; a request's lines share logging.googleapis.com/trace."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "5xx per second > ${var.alert_thresholds.errors_5xx_rps}"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = one_of(${join(", ", [for name in values(local.function_names) : "\"${name}\""])}) AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.errors_5xx_rps
      duration        = local.alert_duration
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "ocr_latency" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: OCR latency"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  documentation {
    content   = "The OCR function's 95th-percentile request time is above ${var.alert_thresholds.ocr_latency_p95} ms: pages queue behind the engine. Raise functions.ocr.max_instances or lower DOCUMENT_SHARD_PAGES."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "OCR p95 latency > ${var.alert_thresholds.ocr_latency_p95} ms"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${module.ocr.name}\" AND metric.type = \"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.ocr_latency_p95
      duration        = local.alert_duration
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_95"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  depends_on = [google_project_service.api]
}
