/*
 * ep_page.c -- GET /debug/: the debug page, one self-contained HTML document
 * (http/page/: index.html with page.css, flame.js and page.js inlined at
 * build time by page/embed.cmake into gh__page_html). It fetches nothing but
 * this server's own JSON endpoints; the Content-Security-Policy below makes
 * the browser refuse anything else.
 *
 * The page is the only route answered without GLASSHEAP_TOKEN (router.c,
 * `open`): a browser cannot add the Authorization header to a navigation.
 * It is the same constant bytes for every caller and says nothing about the
 * process; every figure it shows comes from a call that carries the token,
 * which the page asks for after its first 401 and keeps in sessionStorage.
 */
#include "internal.h"

extern const unsigned char gh__page_html[];
extern const size_t gh__page_html_len;

void gh__ep_page(struct gh_http_call *call)
{
	gh__http_raw(call, "text/html; charset=utf-8", (const char *)gh__page_html, gh__page_html_len, false);
	gh__http_header(call, "content-security-policy",
			"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
			"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
			"frame-ancestors 'none'");
	gh__http_header(call, "x-content-type-options", "nosniff");
	gh__http_header(call, "referrer-policy", "no-referrer");
}
