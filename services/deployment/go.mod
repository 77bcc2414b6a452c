module github.com/podwarden/podwarden/services/deployment

go 1.26.8
