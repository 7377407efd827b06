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
	}
	if (err < 0 && err > COIL_EBASE)
		return strerrordesc_np(-err) ? strerrordesc_np(-err)
					     : "unknown error";
	return "unknown error";
}
