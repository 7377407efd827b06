/*
 * coil/http.h - HTTP/1.1: what users include. The message layer (URLs,
 * the writer, the parser, body decoding: no I/O) is coil/http_message.h,
 * the client coil/http_client.h, the server coil/http_server.h; this
 * header includes the three.
 */
#ifndef COIL_HTTP_H
#define COIL_HTTP_H

#include "coil/http_message.h"
#include "coil/http_client.h"
#include "coil/http_server.h"
#include "coil/http_h2.h"

#endif /* COIL_HTTP_H */
