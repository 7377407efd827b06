/*
 * http/chars.c - the byte class table of http/chars.h, and the reason
 * phrases of RFC 9110 §15.
 */
#include "coil/http.h"
#include "chars.h"

#define V (CH_VALUE | CH_TARGET | CH_TAIL)	      /* VCHAR, not tchar */
#define T (CH_TCHAR | CH_VALUE | CH_TARGET | CH_TAIL) /* tchar */
#define H (T | CH_HEX)				      /* hex digit */
#define O (CH_VALUE | CH_TARGET | CH_TAIL)	      /* obs-text */

const uint8_t coil__http_ch[256] = {
	['\t'] = CH_VALUE | CH_TAIL,
	['\n'] = CH_TAIL,
	['\r'] = CH_TAIL,
	[' '] = CH_VALUE | CH_TAIL,
	['!'] = T,
	['"'] = V,
	['#'] = T,
	['$'] = T,
	['%'] = T,
	['&'] = T,
	['\''] = T,
	['('] = V,
	[')'] = V,
	['*'] = T,
	['+'] = T,
	[','] = V,
	['-'] = T,
	['.'] = T,
	['/'] = V,
	['0' ... '9'] = H,
	[':' ... '@'] = V,
	['A' ... 'F'] = H,
	['G' ... 'Z'] = T,
	['['] = V,
	['\\'] = V,
	[']'] = V,
	['^'] = T,
	['_'] = T,
	['`'] = T,
	['a' ... 'f'] = H,
	['g' ... 'z'] = T,
	['{'] = V,
	['|'] = T,
	['}'] = V,
	['~'] = T,
	[0x80 ... 0xff] = O,
};

/* RFC 9110 §15 (and the registered extensions: 102, 103, 207, 208, 226,
 * 423, 424, 425, 428, 429, 431, 451, 506-511). */
static const char *const reasons[500] = {
	[100 - 100] = "Continue",
	[101 - 100] = "Switching Protocols",
	[102 - 100] = "Processing",
	[103 - 100] = "Early Hints",
	[200 - 100] = "OK",
	[201 - 100] = "Created",
	[202 - 100] = "Accepted",
	[203 - 100] = "Non-Authoritative Information",
	[204 - 100] = "No Content",
	[205 - 100] = "Reset Content",
	[206 - 100] = "Partial Content",
	[207 - 100] = "Multi-Status",
	[208 - 100] = "Already Reported",
	[226 - 100] = "IM Used",
	[300 - 100] = "Multiple Choices",
	[301 - 100] = "Moved Permanently",
	[302 - 100] = "Found",
	[303 - 100] = "See Other",
	[304 - 100] = "Not Modified",
	[305 - 100] = "Use Proxy",
	[307 - 100] = "Temporary Redirect",
	[308 - 100] = "Permanent Redirect",
	[400 - 100] = "Bad Request",
	[401 - 100] = "Unauthorized",
	[402 - 100] = "Payment Required",
	[403 - 100] = "Forbidden",
	[404 - 100] = "Not Found",
	[405 - 100] = "Method Not Allowed",
	[406 - 100] = "Not Acceptable",
	[407 - 100] = "Proxy Authentication Required",
	[408 - 100] = "Request Timeout",
	[409 - 100] = "Conflict",
	[410 - 100] = "Gone",
	[411 - 100] = "Length Required",
	[412 - 100] = "Precondition Failed",
	[413 - 100] = "Content Too Large",
	[414 - 100] = "URI Too Long",
	[415 - 100] = "Unsupported Media Type",
	[416 - 100] = "Range Not Satisfiable",
	[417 - 100] = "Expectation Failed",
	[421 - 100] = "Misdirected Request",
	[422 - 100] = "Unprocessable Content",
	[423 - 100] = "Locked",
	[424 - 100] = "Failed Dependency",
	[425 - 100] = "Too Early",
	[426 - 100] = "Upgrade Required",
	[428 - 100] = "Precondition Required",
	[429 - 100] = "Too Many Requests",
	[431 - 100] = "Request Header Fields Too Large",
	[451 - 100] = "Unavailable For Legal Reasons",
	[500 - 100] = "Internal Server Error",
	[501 - 100] = "Not Implemented",
	[502 - 100] = "Bad Gateway",
	[503 - 100] = "Service Unavailable",
	[504 - 100] = "Gateway Timeout",
	[505 - 100] = "HTTP Version Not Supported",
	[506 - 100] = "Variant Also Negotiates",
	[507 - 100] = "Insufficient Storage",
	[508 - 100] = "Loop Detected",
	[511 - 100] = "Network Authentication Required",
};

const char *coil_http_reason(int status)
{
	if (status < 100 || status >= 600 || !reasons[status - 100])
		return "";
	return reasons[status - 100];
}
