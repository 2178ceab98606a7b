/* mail.c: opening and decoding one envelope. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client/mail.h"
#include "client/upload.h"

int mail_open(struct mail *ret, uint32_t id, const uint8_t *env, size_t env_len,
              const struct mail_keys *k)
{
	if (!envelope_size_valid(env_len))
		return -EINVAL;
	struct mail m;
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.env_len = env_len;
	m.buf = xmalloc(env_len - ENVELOPE_OVERHEAD);
	int rc = envelope_open(m.buf, env_len - ENVELOPE_OVERHEAD, &m.len, env, env_len, k->esk,
	                       k->epk);
	if (rc != 0)
		goto fail;
	struct msg_header h;
	rc = msg_header_decode(&h, m.buf, m.len);
	if (rc < 0)
		goto fail;
	m.type = rc;
	m.ts = h.ts;
	switch (m.type) {
	case MSG_EXT: rc = msg_ext_decode(&m.m.ext, m.buf, m.len); break;
	case MSG_INT: rc = msg_int_decode(&m.m.in, m.buf, m.len); break;
	case MSG_OUT: rc = msg_out_decode(&m.m.out, m.buf, m.len); break;
	case MSG_UPL: rc = msg_upl_decode(&m.m.upl, m.buf, m.len); break;
	default: rc = -EBADMSG; break;
	}
	if (rc != 0)
		goto fail;
	if (m.type == MSG_UPL && m.m.upl.kind == MSG_UPL_USER &&
	    upload_open(m.m.upl.data.p, m.m.upl.data.len, k->ufk, &m.upl_plain, &m.upl_plain_len,
	                &m.upl_name, &m.upl_content) == 0)
		m.upl_open = true;
	*ret = m;
	return 0;
fail:
	free(m.buf);
	return rc == -EINVAL ? -EINVAL : -EBADMSG;
}

void mail_free(struct mail *m)
{
	if (m->buf) {
		sodium_memzero(m->buf, m->len);
		free(m->buf);
	}
	upload_free(m->upl_plain, m->upl_plain_len);
	memset(m, 0, sizeof(*m));
}

const char *mail_type_name(int type)
{
	switch (type) {
	case MSG_EXT: return "mail";
	case MSG_INT: return "message";
	case MSG_OUT: return "report";
	case MSG_UPL: return "file";
	default: return "unknown";
	}
}
