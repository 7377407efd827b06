/*
 * coil/coil.h - the umbrella header: everything public in coil.
 *
 * engine.h  the loop and its ops (sockets, files, time, cancel, buffers)
 * async.h   group, semaphore, rate limiter, retry, queue, event, drain,
 *           offload pool, name resolution
 * stream.h  TCP byte streams and listeners
 * tls.h     TLS streams over TCP streams (mbedTLS)
 * http.h    URL, HTTP/1.1 parser, client and server
 * hist.h    latency histogram (HdrHistogram layout)
 */
#ifndef COIL_COIL_H
#define COIL_COIL_H

#include "coil/engine.h"
#if __has_include("coil/async.h")
#include "coil/async.h"
#endif
#if __has_include("coil/stream.h")
#include "coil/stream.h"
#endif
#if __has_include("coil/tls.h")
#include "coil/tls.h"
#endif
#if __has_include("coil/http.h")
#include "coil/http.h"
#endif
#if __has_include("coil/hist.h")
#include "coil/hist.h"
#endif

#endif
