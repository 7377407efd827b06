/*
 * coil/coil.h - the umbrella header: everything public in coil.
 *
 * engine.h  the loop and its ops (sockets, files, time, cancel, buffers)
 * async.h   group, semaphore, rate limiter, retry, queue, event, drain,
 *           offload pool, name resolution
 * stream.h  TCP byte streams and listeners
 * tls.h     TLS streams over TCP streams (mbedTLS)
 * http.h    HTTP/1.1: http_message.h (URL, writer, parser, bodies),
 *           http_client.h, http_server.h
 * hist.h    latency histogram (HdrHistogram layout)
 * connpool.h  connection pool for request/response protocols
 * http_op.h   an HTTP request as a coil_op (groups, deadlines, cancel)
 * resp.h      Redis (RESP2) client on the connection pool
 * version.h   COIL_VERSION_STRING (written by CMake from the project's)
 */
#ifndef COIL_COIL_H
#define COIL_COIL_H

#include "coil/engine.h"
#include "coil/async.h"
#include "coil/connpool.h"
#include "coil/stream.h"
#include "coil/tls.h"
#include "coil/http.h"
#include "coil/http_op.h"
#include "coil/resp.h"
#include "coil/hist.h"
#include "coil/version.h"

#endif
