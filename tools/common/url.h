/*
 * tools/common/url.h - the one message coil's programs give for a URL
 * they cannot use: "bad URL 'example.com/': missing scheme (http:// or
 * https://)", with coil_url_parse()'s reason (u->why), so coil-bench and
 * coil-get say the same thing for the same mistake. Header-only, as the
 * other tools/common files.
 */
#ifndef COIL_TOOLS_URL_H
#define COIL_TOOLS_URL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil/engine.h"
#include "coil/http_message.h"

/*
 * tools_url_why() - describe what is wrong with @url (as coil_url_parse()
 * returned @res for it) into @buf: "bad URL '<url>': <reason>".
 * Return: @buf.
 */
static inline const char *tools_url_why(const char *url, int res,
					const char *why, char *buf, size_t len)
{
	snprintf(buf, len, "bad URL '%s': %s", url,
		 why ? why
		 : res == -EPROTONOSUPPORT
			 ? "unsupported scheme (only http and https)"
			 : coil_strerror(res));
	return buf;
}

/*
 * tools_url_check() - parse @url as the programs take it.
 * @buf: receives tools_url_why()'s message when @url is not usable.
 * Return: 0; coil_url_parse()'s error (-EINVAL, -EPROTONOSUPPORT,
 * COIL_ELIMIT); -ENOMEM.
 */
static inline int tools_url_check(const char *url, char *buf, size_t len)
{
	struct coil_url *u = malloc(sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	ret = coil_url_parse(u, url, strlen(url));
	if (ret < 0)
		tools_url_why(url, ret, u->why, buf, len);
	free(u);
	return ret < 0 ? ret : 0;
}

#endif
