/*
 * status.c -- HTTP status code -> reason phrase (status.h): one sorted
 * table, looked up by binary search. Entry point: gh__http_reason.
 */
#include "status.h"

#include <stddef.h>

static const struct {
	short status;
	const char *phrase;
} table[] = {
	{100, "Continue"},
	{101, "Switching Protocols"},
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{204, "No Content"},
	{206, "Partial Content"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{303, "See Other"},
	{304, "Not Modified"},
	{307, "Temporary Redirect"},
	{308, "Permanent Redirect"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{411, "Length Required"},
	{412, "Precondition Failed"},
	{413, "Request Entity Too Large"},
	{414, "Request-URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Requested Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{421, "Misdirected Request"},
	{422, "Unprocessable Entity"},
	{425, "Too Early"},
	{426, "Upgrade Required"},
	{428, "Precondition Required"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
	{505, "HTTP Version Not Supported"},
	{507, "Insufficient Storage"},
};

static const char *lookup(int status)
{
	size_t lo = 0, hi = sizeof table / sizeof table[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (table[mid].status == status)
			return table[mid].phrase;
		if (table[mid].status < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *gh__http_reason(int status)
{
	static const char *const classes[] = {"Informational", "Success", "Redirection", "Client Error",
					      "Server Error"};
	const char *p = lookup(status);
	if (p)
		return p;
	if (status < 100 || status > 599)
		return "Unknown";
	return classes[status / 100 - 1];
}

bool gh__http_reason_known(int status)
{
	return lookup(status) != NULL;
}
