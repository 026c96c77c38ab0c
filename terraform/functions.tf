# The three functions, one module each, from the archives `make package` built
# (scripts/package_functions.py writes them and build/functions/manifest.json, which names
# each archive and its sha256; only that JSON is read as text here).
locals {
  archives_dir = "${path.module}/../build/functions"
  archives     = jsondecode(file("${local.archives_dir}/manifest.json"))

  # Behind the front door the HTTP functions take traffic from the load balancer only; the
  # OCR function takes Pub/Sub pushes only (internal traffic) either way.
  http_ingress = var.front_door ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
}

module "results" {
  source = "./modules/function"

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-results"
  description           = local.functions.results.description
  archive_path          = "${local.archives_dir}/${local.archives.results.archive}"
  archive_sha256        = local.archives.results.sha256
  entry_point           = local.functions.results.entry_point
  runtime               = var.runtime
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  service_account_email = google_service_account.fn["results"].email
  sizing                = var.functions["results"]
  environment           = local.function_env.results
  secret_environment    = local.http_secret_env
  ingress               = local.http_ingress
  labels                = var.labels

  depends_on = [google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_sources, google_secret_manager_secret_iam_member.api_keys]
}

module "ocr" {
  source = "./modules/function"

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-ocr"
  description           = local.functions.ocr.description
  archive_path          = "${local.archives_dir}/${local.archives.ocr.archive}"
  archive_sha256        = local.archives.ocr.sha256
  entry_point           = local.functions.ocr.entry_point
  runtime               = var.runtime
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  service_account_email = google_service_account.fn["ocr"].email
  sizing                = var.functions["ocr"]
  environment           = local.function_env.ocr
  ingress               = var.ocr_ingress
  labels                = var.labels

  depends_on = [google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_sources]
}

module "upload" {
  source = "./modules/function"

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-upload"
  description           = local.functions.upload.description
  archive_path          = "${local.archives_dir}/${local.archives.upload.archive}"
  archive_sha256        = local.archives.upload.sha256
  entry_point           = local.functions.upload.entry_point
  runtime               = var.runtime
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  service_account_email = google_service_account.fn["upload"].email
  sizing                = var.functions["upload"]
  environment           = local.function_env.upload
  secret_environment    = local.http_secret_env
  ingress               = local.http_ingress
  labels                = var.labels

  depends_on = [google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_sources, google_secret_manager_secret_iam_member.api_keys]
}

locals {
  function_names = {
    upload  = module.upload.name
    ocr     = module.ocr.name
    results = module.results.name
  }
}
