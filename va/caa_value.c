#include "config.h"
#include <string.h>
#include <strings.h>
#include "va/caa_value.h"

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

int
caa_value_permits(const unsigned char *v, size_t len, const char *const *ids, size_t nids,
    const char *account_uri, const char *method)
{
	char buf[CAA_VALUE_MAX + 1], *semi, *param, *save = NULL;
	const char *issuer;
	int ours = 0;

	if (len > CAA_VALUE_MAX || memchr(v, '\0', len) != NULL)
		return 0;
	memcpy(buf, v, len);
	buf[len] = '\0';
	semi = strchr(buf, ';');
	if (semi != NULL)
		*semi = '\0';
	issuer = trim(buf);
	for (size_t i = 0; i < nids; i++)
		if (*issuer != '\0' && strcasecmp(issuer, ids[i]) == 0)
			ours = 1;
	if (!ours || semi == NULL)
		return ours;
	for (param = strtok_r(semi + 1, ";", &save); param != NULL;
	    param = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(param, '=');
		const char *key, *val;

		if (eq == NULL) {
			if (*trim(param) == '\0')
				continue;
			return 0;   /* malformed: unsatisfiable */
		}
		*eq = '\0';
		key = trim(param);
		val = trim(eq + 1);
		if (strcmp(key, "accounturi") == 0) {
			if (account_uri == NULL || strcmp(val, account_uri) != 0)
				return 0;
		} else if (strcmp(key, "validationmethods") == 0) {
			char list[256], *m, *s2 = NULL;
			int hit = 0;

			if (strlen(val) >= sizeof(list))
				return 0;
			memcpy(list, val, strlen(val) + 1);
			for (m = strtok_r(list, ",", &s2); m != NULL; m = strtok_r(NULL, ",", &s2))
				if (strcmp(trim(m), method) == 0)
					hit = 1;
			if (!hit)
				return 0;
		}
	}
	return 1;
}
