/*
 * status.h -- the one table of HTTP reason phrases, shared by the debug
 * server (the status line of every response it sends, h2o's own errors
 * included) and the command-line client (how it names an error status).
 *
 * The phrases are those of Python's http.HTTPStatus (3.11, Debian 12), what
 * the reference FastAPI service's server (uvicorn) sends: 413 is "Request
 * Entity Too Large", 422 "Unprocessable Entity". Nothing here allocates;
 * thread-safe. Nothing is exported from libglassheap.
 */
#ifndef GH_HTTP_STATUS_H
#define GH_HTTP_STATUS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The reason phrase of status (a static string): the table's phrase, or
 * for a status the table does not know, its class ("Client Error", "Server
 * Error", ...; "Unknown" outside 100..599). Never NULL. */
const char *gh__http_reason(int status);

/* True when status is in the table (the server emits no other). */
bool gh__http_reason_known(int status);

#ifdef __cplusplus
}
#endif

#endif /* GH_HTTP_STATUS_H */
