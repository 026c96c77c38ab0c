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

variable "archive_path" {
  description = "The function's source archive (build/functions/<name>-<hash>.zip from `make package`)."
  type        = string

  validation {
    condition     = fileexists(var.archive_path)
    error_message = "archive_path: no such file; run `make package` first."
  }
}

variable "archive_sha256" {
  description = "sha256 of the archive (build/functions/manifest.json); names the uploaded object."
  type        = string

  # A stale manifest (an archive rebuilt without it, or edited) fails here, at plan.
  validation {
    condition     = fileexists(var.archive_path) ? filesha256(var.archive_path) == var.archive_sha256 : false
    error_message = "archive_sha256 is not the archive's sha256; run `make package` again."
  }
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
  description = "ALLOW_INTERNAL_AND_GCLB behind the load balancer, ALLOW_INTERNAL_ONLY for the OCR function."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress: ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "labels" {
  type = map(string)
}
