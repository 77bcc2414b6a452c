// Package openapi embeds the OpenAPI (Swagger 2.0) document generated from the
// protos and the HTTP rules, served by the gateway at /openapi/v2.
package openapi

import _ "embed"

// JSON is the generated OpenAPI v2 document.
//
//go:embed gen/podwarden.swagger.json
var JSON []byte
