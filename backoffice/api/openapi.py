"""The OpenAPI 3.1 document of the export API (and the kiosk API, for reference)."""

from __future__ import annotations

from typing import Any

import contract

_err = {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(base_url: str) -> dict[str, Any]:
    case_param = {"name": "case_code", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": contract.CASE_CODE_RE.pattern}}
    export_security = [{"token": []}, {"session": []}]
    kiosk_security = [{"kiosk": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Back office API",
            "version": f"1 (contract {contract.CONTRACT_VERSION})",
            "description": "Export of cases to the approval platform (一窗通办), and the kiosk delivery API. "
                           "Exports carry personal data and are audited per case.",
        },
        "servers": [{"url": base_url}],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "Authorization: Token <key> "
                          "(or Bearer <key>); keys are issued per platform account"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "kiosk": {"type": "http", "scheme": "bearer", "description": "<kiosk_id>.<secret> from enrolment"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "CaseSummary": {"type": "object", "properties": {
                    k: {"type": "string"} for k in ("case_code", "state", "service_id", "kiosk_id", "village",
                                                    "due_date", "deposited_at", "updated_at")}},
                "CaseList": {"type": "object", "properties": {
                    "cases": {"type": "array", "items": {"$ref": "#/components/schemas/CaseSummary"}},
                    "next": {"type": ["string", "null"], "description": "URL of the next page"}}},
                "CaseDocument": {"type": "object", "description": "CaseSummary plus town, kiosk, service, "
                                 "identity (unmasked), phone, card photo, checks, papers (with 容缺 deferrals), "
                                 "files (with their path in the zip), compartment, decision, history",
                                 "properties": {"export_format": {"type": "integer"},
                                                "identity": {"type": "object"},
                                                "papers": {"type": "array", "items": {"type": "object"}},
                                                "files": {"type": "array", "items": {"type": "object"}},
                                                "history": {"type": "array", "items": {"type": "object"}}}},
            },
        },
        "paths": {
            "/api/v1/export/cases": {"get": {
                "summary": "Cases of the caller's town, oldest change first",
                "security": export_security,
                "parameters": [
                    {"name": "state", "in": "query", "schema": {"type": "string"}},
                    {"name": "updated_since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                    {"name": "after", "in": "query", "schema": {"type": "integer"},
                     "description": "opaque cursor from `next`"}],
                "responses": {"200": {"description": "A page of cases", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CaseList"}}}}, "401": _err}}},
            "/api/v1/export/cases/{case_code}": {"get": {
                "summary": "One case as JSON (audited)", "security": export_security, "parameters": [case_param],
                "responses": {"200": {"description": "The case", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CaseDocument"}}}}, "401": _err, "404": _err}}},
            "/api/v1/export/cases/{case_code}/package.zip": {"get": {
                "summary": "The case as a zip: case.json plus files/<file_id>.pdf (audited)",
                "security": export_security, "parameters": [case_param],
                "responses": {"200": {"description": "zip", "content": {"application/zip": {}}},
                              "401": _err, "404": _err}}},
            "/api/v1/enrol": {"post": {"summary": "Kiosk enrolment with a one-time code (contract.EnrolRequest)",
                                       "responses": {"201": {"description": "contract.EnrolResponse"}, "401": _err}}},
            "/api/v1/cases/{case_code}": {"put": {
                "summary": "Deliver a case (contract.CasePackage); idempotent", "security": kiosk_security,
                "parameters": [case_param],
                "responses": {"200": {"description": "held already"}, "201": {"description": "stored"},
                              "401": _err, "409": _err, "413": _err, "422": _err}}},
            "/api/v1/cases/{case_code}/files/{file_id}": {
                "get": {"summary": "Upload status", "security": kiosk_security,
                        "parameters": [case_param, {"name": "file_id", "in": "path", "required": True,
                                                    "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "contract.UploadStatus"}}},
                "put": {"summary": "One chunk with Content-Range; resumable", "security": kiosk_security,
                        "parameters": [case_param, {"name": "file_id", "in": "path", "required": True,
                                                    "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "contract.UploadStatus"}, "416": _err, "422": _err}}},
            "/api/v1/events": {"post": {"summary": "Kiosk events (contract.EventBatch); idempotent per event_id",
                                        "security": kiosk_security,
                                        "responses": {"200": {"description": "contract.EventsReceipt"}}}},
        },
    }
