"""Whatever a client sends to /v1, the answer is Google's error shape with a 4xx, or a
200 whose bad items carry their own error: never a 5xx, never the service's own shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

IMAGE = {"content": "aGVsbG8="}
TEXT = [{"type": 5}]

BODIES: list[tuple[str, Any]] = [
    ("images:annotate", "["),
    ("images:annotate", "[" * 100_000),
    ("images:annotate", '"just a string"'),
    ("images:annotate", {"requests": "x"}),
    ("images:annotate", {"requests": [1, [], None, "x"]}),
    ("images:annotate", {"requests": [{"image": {"content": 5}, "features": TEXT}]}),
    ("images:annotate", {"requests": [{"image": {"content": "%%%"}, "features": TEXT}]}),
    ("images:annotate", {"requests": [{"image": {"source": "x"}, "features": TEXT}]}),
    (
        "images:annotate",
        {"requests": [{"image": {"source": {"gcsImageUri": 7}}, "features": TEXT}]},
    ),
    (
        "images:annotate",
        {"requests": [{"image": {"source": {"gcsImageUri": "gs://"}}, "features": TEXT}]},
    ),
    (
        "images:annotate",
        {"requests": [{"image": {"source": {"imageUri": "file:///etc/passwd"}}, "features": TEXT}]},
    ),
    (
        "images:annotate",
        {
            "requests": [
                {"image": {"source": {"gcsImageUri": "gs://ocr-input/a\x00b"}}, "features": TEXT}
            ]
        },
    ),
    ("images:annotate", {"requests": [{"image": IMAGE, "features": "TEXT_DETECTION"}]}),
    ("images:annotate", {"requests": [{"image": IMAGE, "features": [{"type": 1e309}]}]}),
    ("images:annotate", {"requests": [{"image": IMAGE, "features": [{"type": [5]}]}]}),
    (
        "images:annotate",
        {"requests": [{"image": IMAGE, "features": TEXT, "imageContext": {"languageHints": "en"}}]},
    ),
    (
        "images:annotate",
        {"requests": [{"image": IMAGE, "features": TEXT, "imageContext": {"languageHints": [1]}}]},
    ),
    ("images:annotate", {"requests": [{"image": IMAGE, "features": TEXT}], "parent": 5}),
    ("images:annotate", {"requests": [{"image": {"content": "JVBERi0xLjQK"}, "features": TEXT}]}),
    ("files:annotate", {"requests": [{"inputConfig": "x", "features": TEXT}]}),
    ("files:annotate", {"requests": [{"inputConfig": {"content": "JVBERi0="}, "features": TEXT}]}),
    (
        "files:annotate",
        {
            "requests": [
                {"inputConfig": {"content": "JVBERi0=", "mimeType": "text/html"}, "features": TEXT}
            ]
        },
    ),
    (
        "files:annotate",
        {"requests": [{"inputConfig": {"content": "SUkqAA=="}, "features": TEXT, "pages": ["1"]}]},
    ),
    (
        "files:annotate",
        {
            "requests": [
                {"inputConfig": {"content": "R0lGODlh"}, "features": TEXT, "pages": [10**30]}
            ]
        },
    ),
    (
        "files:annotate",
        {
            "requests": [
                {"inputConfig": {"gcsSource": {"uri": "gs://ocr-input/nope.pdf"}}, "features": TEXT}
            ]
            * 2
        },
    ),
    (
        "files:asyncBatchAnnotate",
        {
            "requests": [
                {"inputConfig": {"gcsSource": {"uri": "gs://ocr-input/x.pdf"}}, "features": TEXT}
            ]
        },
    ),
    (
        "files:asyncBatchAnnotate",
        {
            "requests": [
                {
                    "inputConfig": {"gcsSource": {"uri": "gs://ocr-input/x.pdf"}},
                    "features": TEXT,
                    "outputConfig": {
                        "gcsDestination": {"uri": "gs://ocr-results/o/"},
                        "batchSize": "5",
                    },
                }
            ]
        },
    ),
    (
        "files:asyncBatchAnnotate",
        {
            "requests": [
                {
                    "inputConfig": {"gcsSource": {"uri": "gs://ocr-input/x.pdf"}},
                    "features": TEXT,
                    "outputConfig": {
                        "gcsDestination": {"uri": "gs://ocr-results/o/"},
                        "batchSize": 101,
                    },
                }
            ]
        },
    ),
    (
        "files:asyncBatchAnnotate",
        {
            "requests": [
                {
                    "inputConfig": {"gcsSource": {"uri": "gs://ocr-input/x.pdf"}},
                    "features": TEXT,
                    "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/_operations/x"}},
                }
            ]
        },
    ),
    (
        "files:asyncBatchAnnotate",
        {
            "requests": [
                {
                    "inputConfig": {"content": "JVBERi0="},
                    "features": TEXT,
                    "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/o/"}},
                }
            ]
        },
    ),
    ("images:asyncBatchAnnotate", {"requests": [{"image": IMAGE, "features": TEXT}]}),
    (
        "images:asyncBatchAnnotate",
        {
            "requests": [{"image": IMAGE, "features": TEXT}],
            "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/o/"}},
        },
    ),
    (
        "images:asyncBatchAnnotate",
        {
            "requests": [{"image": IMAGE, "features": [{"type": 4}]}],
            "outputConfig": {"gcsDestination": {"uri": "gs://ocr-results/o/"}},
        },
    ),
]


@pytest.mark.parametrize(("method", "body"), BODIES)
def test_hostile_bodies_get_google_shaped_4xx(upload_client: Any, method: str, body: Any) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    response = upload_client.post(f"/v1/{method}", data=data, content_type="application/json")
    assert response.status_code < 500, response.json
    if response.status_code >= 400:
        error = response.json["error"]
        assert set(error) == {"code", "message", "status"} and error["code"] == response.status_code
    else:
        for item in response.json["responses"]:
            assert item["error"]["code"] in (3, 5, 7), item


@pytest.mark.parametrize(
    "path",
    [
        "/v1/operations/..%2F..%2Fetc",
        "/v1/operations/a b",
        "/v1/operations/" + "x" * 500,
        "/v1/operations?pageSize=-1",
        "/v1/operations?pageSize=99999999999999999999",
        "/v1/operations?pageToken=%00",
        "/v1/operations?filter=done%3Dmaybe",
        "/v1/projects/p/locations/l/operations/x:cancel",
        "/v1/",
        "/v1/images",
    ],
)
def test_hostile_paths_and_queries(upload_client: Any, path: str) -> None:
    response = upload_client.get(path)
    assert 400 <= response.status_code < 500
    assert response.json["error"]["status"] in ("INVALID_ARGUMENT", "NOT_FOUND")


def test_paths_flask_refuses_still_answer_googles_shape(upload_client: Any) -> None:
    """A newline in the path never reaches a handler (Flask's router refuses it first)."""
    for path in ("/v1/projects/a%0Ab/images:annotate", "/v1/operations/x%0Ay"):
        response = upload_client.post(path, data="{}", content_type="application/json")
        assert response.status_code == 404, path
        assert response.json["error"]["status"] == "NOT_FOUND", response.json
    own = upload_client.post("/operations/x%0Ay", data="{}", content_type="application/json")
    assert own.json["error"]["code"] == "not_found"  # the service's own shape elsewhere
