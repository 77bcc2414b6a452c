module github.com/podwarden/podwarden/gateway

go 1.26.8
