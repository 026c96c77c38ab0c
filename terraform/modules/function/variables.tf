variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Function (and Cloud Run service) name."
  type        = string
}

variable "description" {
  type = string
}

variable "source_dir" {
  description = "The function's folder: main.py and requirements.txt."
  type        = string
}

variable "function_files" {
  description = "Files of source_dir that go to the root of the archive."
  type        = list(string)
}

variable "core_dir" {
  description = "The core package's folder, copied into the archive under core_package."
  type        = string
}

variable "core_package" {
  type = string
}

variable "core_files" {
  description = "Paths under core_dir to include."
  type        = list(string)
}

variable "entry_point" {
  type = string
}

variable "runtime" {
  type = string
}

variable "source_bucket" {
  type = string
}

variable "build_service_account" {
  description = "Fully qualified id of the account builds run as."
  type        = string
}

variable "service_account_email" {
  description = "The account the function runs as."
  type        = string
}

variable "sizing" {
  type = object({
    memory        = string
    cpu           = string
    timeout       = number
    concurrency   = number
    min_instances = number
    max_instances = number
  })
}

variable "environment" {
  type = map(string)
}

variable "secret_environment" {
  description = "Environment variables read from Secret Manager: name -> secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "ingress" {
  type = string
}

variable "labels" {
  type = map(string)
}

variable "build_dir" {
  description = "Where the archive is written locally before upload."
  type        = string
}
