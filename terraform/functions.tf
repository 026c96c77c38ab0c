# The three functions, one module each (upload's environment names the results function's
# URL, which a single for_each resource could not refer to without a cycle).
locals {
  function_module_inputs = {
    function_files = local.function_files
    core_dir       = "${path.module}/../${local.core_package}"
    build_dir      = "${path.module}/.build"
  }
}

module "results" {
  source = "./modules/function"

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-results"
  description           = local.functions.results.description
  source_dir            = "${path.module}/../functions/results"
  function_files        = local.function_module_inputs.function_files
  core_dir              = local.function_module_inputs.core_dir
  core_package          = local.core_package
  core_files            = local.core_files
  build_dir             = local.function_module_inputs.build_dir
  entry_point           = local.functions.results.entry_point
  runtime               = var.runtime
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  service_account_email = google_service_account.fn["results"].email
  sizing                = var.functions["results"]
  environment           = local.function_env.results
  secret_environment    = local.http_secret_env
  ingress               = "ALLOW_ALL"
  labels                = var.labels

  depends_on = [google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_sources, google_secret_manager_secret_iam_member.api_keys]
}

module "ocr" {
  source = "./modules/function"

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-ocr"
  description           = local.functions.ocr.description
  source_dir            = "${path.module}/../functions/ocr"
  function_files        = local.function_module_inputs.function_files
  core_dir              = local.function_module_inputs.core_dir
  core_package          = local.core_package
  core_files            = local.core_files
  build_dir             = local.function_module_inputs.build_dir
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
  source_dir            = "${path.module}/../functions/upload"
  function_files        = local.function_module_inputs.function_files
  core_dir              = local.function_module_inputs.core_dir
  core_package          = local.core_package
  core_files            = local.core_files
  build_dir             = local.function_module_inputs.build_dir
  entry_point           = local.functions.upload.entry_point
  runtime               = var.runtime
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  service_account_email = google_service_account.fn["upload"].email
  sizing                = var.functions["upload"]
  environment           = local.function_env.upload
  secret_environment    = local.http_secret_env
  ingress               = "ALLOW_ALL"
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
