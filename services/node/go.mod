module github.com/podwarden/podwarden/services/node

go 1.26.8
