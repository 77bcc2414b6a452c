package streams

import (
	"net/http"
	"path"
	"strings"
	"time"
)

// Default pages of the web servers a simulated container can be: what the
// official images serve at / before anyone changes them.
const (
	nginxPage = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`
	httpdPage = "<html><body><h1>It works!</h1></body></html>\n"
)

// WebServer is the simulated server of a container image that is one (nginx,
// httpd), listening on port 80; nil for other images, which listen nowhere.
func WebServer(image string) (port int32, h http.Handler) {
	name := imageRepoName(image)
	switch {
	case name == "nginx" || strings.HasPrefix(name, "nginx-") && name != "nginx-ingress":
		return 80, staticSite{server: "nginx/" + versionOf(image, "1.27.4"), index: nginxPage, notFound: nginxError(404, "Not Found", versionOf(image, "1.27.4"))}
	case name == "httpd":
		return 80, staticSite{server: "Apache/" + versionOf(image, "2.4.62") + " (Unix)", index: httpdPage,
			notFound: "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n"}
	}
	return 0, nil
}

func nginxError(code int, text, version string) string {
	return "<html>\r\n<head><title>" + itoa(code) + " " + text + "</title></head>\r\n<body>\r\n<center><h1>" + itoa(code) + " " + text +
		"</h1></center>\r\n<hr><center>nginx/" + version + "</center>\r\n</body>\r\n</html>\r\n"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// staticSite serves index at / and /index.html, notFound elsewhere.
type staticSite struct {
	server, index, notFound string
}

var started = time.Now().UTC()

func (s staticSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", s.server)
	w.Header().Set("Content-Type", "text/html")
	p := path.Clean("/" + r.URL.Path)
	if p != "/" && p != "/index.html" {
		w.WriteHeader(http.StatusNotFound)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(s.notFound))
		}
		return
	}
	w.Header().Set("Last-Modified", started.Format(http.TimeFormat))
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", itoa(len(s.index)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write([]byte(s.index))
}

// imageRepoName is the last path element of an image's repository.
func imageRepoName(image string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return path.Base(repo)
}

// versionOf is the image's tag when it is a version ("1.25" -> "1.25.0"), else def.
func versionOf(image, def string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	i := strings.LastIndex(repo, ":")
	if i <= strings.LastIndex(repo, "/") {
		return def
	}
	tag := repo[i+1:]
	if tag == "" || tag[0] < '0' || tag[0] > '9' {
		return def
	}
	if j := strings.IndexAny(tag, "-_"); j >= 0 {
		tag = tag[:j]
	}
	if strings.Count(tag, ".") == 1 {
		tag += ".0"
	}
	return tag
}
