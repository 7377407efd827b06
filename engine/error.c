/*
 * engine/error.c - coil_strerror(): one message for every result code,
 * -errno and coil's own codes below COIL_EBASE.
 */

#include <string.h>

#include "coil/engine.h"

const char *coil_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case COIL_EPARSE:
		return "malformed HTTP message";
	case COIL_ETLS:
		return "TLS failure";
	case COIL_ELIMIT:
		return "size limit exceeded";
	case COIL_ECLOSED:
		return "closed";
	case COIL_ETRUNC:
		return "peer closed the connection before the message ended";
	case COIL_ERESOLVE:
		return "name resolution failed";
	case COIL_EHTTP:
		return "HTTP error status";
	case COIL_EH2:
		return "HTTP/2 protocol error by the peer";
	case COIL_EH2_RESET:
		return "HTTP/2 stream reset by the peer (RST_STREAM)";
	case COIL_EH2_GOAWAY:
		return "HTTP/2 peer went away (GOAWAY)";
	case COIL_EH2_FLOW:
		return "HTTP/2 flow-control window stayed closed";
	}
	if (err < 0 && err > COIL_EBASE)
		return strerrordesc_np(-err) ? strerrordesc_np(-err)
					     : "unknown error";
	return "unknown error";
}
