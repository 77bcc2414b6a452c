module github.com/podwarden/podwarden/integration

go 1.26.8
