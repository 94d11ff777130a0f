#include "config.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "ocsp/responder.h"

static const char *const sections[] = CONF_SECTIONS;

anvil_err
responder_conf_load(struct conf_ctx *cc, const char *path, struct responder_conf *c)
{
	anvil_err e;
	int fd;

	memset(c, 0, sizeof(*c));
	if ((e = conf_load_no_pin(cc, path, &c->root)) != AE_OK ||
	    (e = conf_check_keys(cc, c->root, "", sections)) != AE_OK ||
	    (e = conf_parse_log(cc, c->root, &c->log_level, &c->log_syslog)) != AE_OK ||
	    (e = ocsp_conf_parse(cc, c->root, &c->ocsp, &c->crl)) != AE_OK)
		return e;
	if (!c->ocsp.present)
		return conf_fail(cc, "", "ocsp", "is required by anvil-ocsp");
	if (c->ocsp.responder.socket == NULL)
		return conf_fail(cc, "ocsp", "responder", "is required by anvil-ocsp");
	if ((fd = open(c->ocsp.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return conf_fail(cc, "ocsp", "dir", "%s: not a readable directory", c->ocsp.dir);
	close(fd);
	if ((e = signer_conf_parse(cc, c->root, SIGNER_CONF_POLICY, &c->policy)) != AE_OK)
		return e;
	return ocsp_issuers_load(cc, &c->policy, &c->issuers);
}

void
responder_conf_free(struct responder_conf *c)
{
	signer_conf_free(&c->policy);
	if (c->root != NULL)
		json_object_put(c->root);
	c->root = NULL;
}
