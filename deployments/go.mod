module github.com/podwarden/podwarden/deployments

go 1.26.8
