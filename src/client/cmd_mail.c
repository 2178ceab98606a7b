/* cmd_mail.c: mail list/read/rm/empty, send, upload, download and the hidden
 * debug-post. Envelopes are fetched with MSG_BROWSE and opened here. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/fileio.h"
#include "client/json.h"
#include "client/progress.h"
#include "client/upload.h"
#include "common/bytes.h"
#include "common/cet.h"
#include "common/chanmsg.h"

#define MAIL_ATTACH_SLACK 8 /* envelopes after a mail scanned for its files beyond attach_count */
#define MAIL_ATTACH_SCAN_MAX (MSG_ATTACH_MAX + 1 + MAIL_ATTACH_SLACK)

/* One MSG_BROWSE page. */
static int browse(struct client *cl, uint8_t flags, uint32_t from, uint32_t max_count,
                  struct api_result *r, struct result_page *pg, struct progress *pr)
{
	uint8_t args[16];
	args[0] = flags;
	args[1] = 0;
	le32_store(args + 2, from);
	le32_store(args + 6, 0);
	le32_store(args + 10, max_count);
	if (pr)
		cl->api.down = (struct https_progress){ progress_update, pr };
	int rc = client_call(cl, "reading the mailbox", APIREQ_MSG_BROWSE, args, 14, r);
	cl->api.down = (struct https_progress){ NULL, NULL };
	if (pr)
		progress_end(pr);
	if (rc != 0)
		return rc;
	if (result_page_decode(pg, r->data, r->data_len) != 0) {
		api_result_free(r);
		return client_fail(cl, CLIENT_EXIT_NET, "the server's mailbox page is malformed");
	}
	return 0;
}

/* Fetches and opens envelope id. */
static int fetch(struct client *cl, uint32_t id, struct mail *m, bool progress)
{
	struct api_result r;
	struct result_page pg;
	struct progress pr;
	progress_init(&pr, "download", cl->cli->json);
	int rc = browse(cl, APIREQ_BROWSE_OLDEST_FIRST | APIREQ_BROWSE_INCLUSIVE, id, 1, &r, &pg,
	                progress ? &pr : NULL);
	if (rc != 0)
		return rc;
	size_t off = 0;
	uint32_t got = 0;
	const uint8_t *env = NULL;
	size_t len = 0;
	if (pg.count)
		result_page_entry(&pg, 0, &off, &got, &env, &len);
	if (!pg.count || got != id) {
		api_result_free(&r);
		return client_fail(cl, CLIENT_EXIT_ERROR, "no message %" PRIu32, id);
	}
	rc = mail_open(m, id, env, len, &cl->keys->mk);
	api_result_free(&r);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "message %" PRIu32 " does not open with your key (or is damaged)", id);
	return 0;
}

int cmd_mail_list(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	uint32_t left = cl->cli->limit ? cl->cli->limit : UINT32_MAX;
	uint8_t flags = cl->cli->oldest ? APIREQ_BROWSE_OLDEST_FIRST : 0;
	uint32_t from = 0, total = 0;
	json_t *arr = cl->cli->json ? json_array() : NULL;
	bool header = false;
	while (left) {
		struct api_result r;
		struct result_page pg;
		uint32_t want = left < APIREQ_BROWSE_MAX_COUNT ? left : APIREQ_BROWSE_MAX_COUNT;
		if ((rc = browse(cl, flags, from, want, &r, &pg, NULL)) != 0) {
			json_decref(arr);
			return rc;
		}
		total = pg.total_count;
		if (!arr && !header) {
			printf("%8s  %-16s  %-*s  %-*s  %9s\n", "ID", "DATE", RENDER_FROM_COLS, "FROM",
			       RENDER_SUBJECT_COLS, "SUBJECT", "SIZE");
			header = true;
		}
		size_t off = 0;
		for (uint32_t i = 0; i < pg.count && left; i++, left--) {
			uint32_t id;
			const uint8_t *env;
			size_t len;
			struct mail m;
			result_page_entry(&pg, i, &off, &id, &env, &len);
			from = id;
			if (mail_open(&m, id, env, len, &cl->keys->mk) != 0) {
				if (arr)
					json_array_append_new(arr, json_pack("{s:I, s:b}", "id", (json_int_t)id,
					                                     "opened", 0));
				else
					printf("%8" PRIu32 "  (does not open with your key, or damaged)\n", id);
				continue;
			}
			if (arr) {
				json_array_append_new(arr, json_mail_summary(&m));
			} else {
				struct wr w = WR_INIT;
				render_list_line(&w, &m);
				fwrite(w.p, 1, w.len, stdout);
				wr_free(&w);
			}
			mail_free(&m);
		}
		bool more = pg.more && pg.count > 0;
		api_result_free(&r);
		if (!more)
			break;
	}
	if (arr)
		return json_emit(json_pack("{s:I, s:o}", "total_count", (json_int_t)total, "messages",
		                           arr))
		           ? 1
		           : 0;
	fflush(stdout);
	return 0;
}

/* The UplMsgs after an ExtMsg whose parent is its ref (its attachments and
 * original source, which Deliver stores right after it). */
static size_t find_files(struct client *cl, const struct mail *m, struct mail *files,
                         size_t cap)
{
	size_t n = 0;
	uint32_t scan = (uint32_t)m->m.ext.attach_count + 1 + MAIL_ATTACH_SLACK, from = m->id;
	while (scan && n < cap) {
		struct api_result r;
		struct result_page pg;
		if (browse(cl, APIREQ_BROWSE_OLDEST_FIRST, from, scan, &r, &pg, NULL) != 0)
			break;
		size_t off = 0;
		for (uint32_t i = 0; i < pg.count && scan && n < cap; i++, scan--) {
			uint32_t id;
			const uint8_t *env;
			size_t len;
			result_page_entry(&pg, i, &off, &id, &env, &len);
			from = id;
			if (mail_open(&files[n], id, env, len, &cl->keys->mk) != 0)
				continue;
			if (files[n].type == MSG_UPL && files[n].m.upl.kind != MSG_UPL_USER &&
			    files[n].m.upl.parent == m->m.ext.ref)
				n++;
			else
				mail_free(&files[n]);
		}
		bool more = pg.more && pg.count;
		api_result_free(&r);
		if (!more)
			break;
	}
	return n;
}

int cmd_mail_read(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	struct mail m;
	if ((rc = fetch(cl, cl->cli->id, &m, false)) != 0)
		return rc;
	struct mail *files = xcalloc(MAIL_ATTACH_SCAN_MAX, sizeof(*files));
	const struct mail *att[MAIL_ATTACH_SCAN_MAX];
	size_t n = 0;
	if (m.type == MSG_EXT)
		n = find_files(cl, &m, files, MAIL_ATTACH_SCAN_MAX);
	for (size_t i = 0; i < n; i++)
		att[i] = &files[i];
	if (cl->cli->json) {
		rc = json_emit(json_mail_full(&m, att, n)) ? CLIENT_EXIT_ERROR : 0;
	} else {
		struct wr w = WR_INIT;
		if (render_mail(&w, &m, att, n, &cl->ro) != 0)
			rc = client_fail(cl, CLIENT_EXIT_ERROR, "cannot render the message");
		else
			rc = client_write_stdout(cl, w.p, w.len);
		wr_free(&w);
	}
	for (size_t i = 0; i < n; i++)
		mail_free(&files[i]);
	free(files);
	mail_free(&m);
	return rc;
}

static int simple(struct client *cl, uint8_t cmd, const uint8_t *args, size_t n,
                  const char *what)
{
	struct api_result r;
	if (api_call(&cl->api, cmd, args, n, &r) != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	if (st == CHST_NOT_FOUND)
		return client_fail(cl, CLIENT_EXIT_ERROR, "no message %" PRIu32, cl->cli->id);
	if (st != CHST_OK)
		return client_fail(cl, api_status_exit(st), "%s: %s", what, api_status_text(st));
	if (cl->cli->json)
		return json_emit(json_pack("{s:b}", "ok", 1)) ? 1 : 0;
	printf("done\n");
	return 0;
}

int cmd_mail_rm(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	uint8_t args[4];
	le32_store(args, cl->cli->id);
	return simple(cl, APIREQ_MSG_DELETE, args, sizeof(args), "deleting");
}

int cmd_mail_empty(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	if (!client_confirm(cl, "Delete every stored message? Type 'yes': "))
		return client_fail(cl, CLIENT_EXIT_ERROR, "not confirmed; nothing was deleted");
	return simple(cl, APIREQ_MSG_EMPTY, NULL, 0, "emptying the mailbox");
}

/* Reads a whole file ("-" = stdin) of at most max bytes. */
static int read_input(struct client *cl, const char *path, size_t max, uint8_t **ret,
                      size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot open %s: %s", path, strerror(errno));
	int rc = fileio_read_fd(fd, max, ret, ret_len);
	int e = errno;
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc == -EFBIG)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s is too large (at most %zu bytes)", path,
		                   max);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot read %s: %s", path, strerror(e));
	return 0;
}

static size_t local_len(const char *s)
{
	const char *at = strrchr(s, '@');
	return at ? (size_t)(at - s) : strlen(s);
}

int cmd_send(struct client *cl)
{
	const struct cli *c = cl->cli;
	uint8_t from[ADDR32_BYTES], to[ADDR32_BYTES];
	if (addr32_parse(c->arg[0], local_len(c->arg[0]), from) == ADDR32_INVALID)
		return client_fail(cl, CLIENT_EXIT_USAGE, "FROM '%s' is not a valid address", c->arg[0]);
	if (addr32_parse(c->arg[1], local_len(c->arg[1]), to) == ADDR32_INVALID)
		return client_fail(cl, CLIENT_EXIT_USAGE, "TO '%s' is not a valid address", c->arg[1]);
	const char *subj = c->arg[2];
	size_t sl = strlen(subj);
	if (sl > MSG_INT_SUBJECT_MAX || !msg_text_valid((const uint8_t *)subj, sl, MSG_TEXT_LINE))
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "the subject must be at most %d bytes of UTF-8 without control "
		                   "characters",
		                   MSG_INT_SUBJECT_MAX);
	uint8_t *text = NULL;
	size_t tl = 0;
	int rc;
	if (c->nargs > 3 && strcmp(c->arg[3], "-") == 0) {
		if ((rc = read_input(cl, "-", MSG_BODY_MAX, &text, &tl)) != 0)
			return rc;
	} else if (c->nargs > 3) {
		tl = strlen(c->arg[3]);
		text = xmalloc(tl + 1);
		memcpy(text, c->arg[3], tl + 1);
	}
	struct wr body = WR_INIT;
	rc = cet_from_plain(&body, text, tl);
	free(text);
	if (rc != 0) {
		wr_free(&body);
		return client_fail(cl, CLIENT_EXIT_USAGE, "the body is too large");
	}
	if ((rc = client_api(cl, true)) != 0) {
		wr_free(&body);
		return rc;
	}
	struct wr args = WR_INIT;
	wr_bytes(&args, from, sizeof(from));
	wr_bytes(&args, to, sizeof(to));
	wr_u8(&args, (uint8_t)sl);
	wr_bytes(&args, subj, sl);
	wr_u32(&args, (uint32_t)body.len);
	wr_bytes(&args, body.p, body.len);
	wr_free(&body);
	struct api_result r;
	rc = api_call(&cl->api, APIREQ_MSG_SEND_INTERNAL, args.p, args.len, &r);
	wr_free(&args);
	if (rc != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	switch (st) {
	case CHST_OK: break;
	case CHST_NOT_OWNER:
		return client_fail(cl, CLIENT_EXIT_ERROR, "you do not own the address '%s'", c->arg[0]);
	case CHST_NOT_FOUND:
		return client_fail(cl, CLIENT_EXIT_ERROR, "nobody has the address '%s'", c->arg[1]);
	case CHST_SELF:
		return client_fail(cl, CLIENT_EXIT_ERROR, "'%s' is your own address", c->arg[1]);
	case CHST_DECLINED:
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "'%s' does not accept internal mail (its flag accept-internal is off)",
		                   c->arg[1]);
	default:
		return client_fail(cl, api_status_exit(st), "sending: %s", api_status_text(st));
	}
	if (c->json)
		return json_emit(json_pack("{s:b}", "sent", 1)) ? 1 : 0;
	printf("sent\n");
	return 0;
}

int cmd_upload(struct client *cl)
{
	const char *path = cl->cli->arg[0];
	const char *name = cl->cli->name;
	if (!name) {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	size_t nl = strlen(name);
	if (strcmp(path, "-") == 0 && !cl->cli->name)
		return client_fail(cl, CLIENT_EXIT_USAGE, "give --name NAME when uploading from stdin");
	if (!upload_name_valid(name, nl))
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "the file name '%s' cannot be stored (1-255 bytes of UTF-8, no '/' "
		                   "or control characters); give another with --name",
		                   name);
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	uint8_t *content;
	size_t len;
	if ((rc = read_input(cl, path, UPLOAD_CONTENT_MAX(nl), &content, &len)) != 0)
		return rc;
	struct wr args = WR_INIT;
	wr_u8(&args, sizeof(UPLOAD_SERVER_NAME) - 1);
	wr_bytes(&args, UPLOAD_SERVER_NAME, sizeof(UPLOAD_SERVER_NAME) - 1);
	rc = upload_seal(&args, name, nl, content, len, cl->keys->mk.ufk);
	sodium_memzero(content, len);
	free(content);
	if (rc != 0) {
		wr_free(&args);
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot encrypt the file");
	}
	struct progress pr;
	progress_init(&pr, "upload", cl->cli->json);
	cl->api.up = (struct https_progress){ progress_update, &pr };
	struct api_result r;
	rc = api_call(&cl->api, APIREQ_MSG_UPLOAD, args.p, args.len, &r);
	cl->api.up = (struct https_progress){ NULL, NULL };
	progress_end(&pr);
	wr_free(&args);
	if (rc != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	uint32_t id = r.data_len == 4 ? le32_load(r.data) : 0;
	bool good = r.data_len == 4;
	api_result_free(&r);
	if (st == CHST_LIMIT)
		return client_fail(cl, CLIENT_EXIT_ERROR, "uploading: your storage is full");
	if (st != CHST_OK)
		return client_fail(cl, api_status_exit(st), "uploading: %s", api_status_text(st));
	if (!good)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's answer is malformed");
	if (cl->cli->json)
		return json_emit(json_pack("{s:I, s:I}", "id", (json_int_t)id, "size", (json_int_t)len))
		           ? 1
		           : 0;
	printf("stored as %" PRIu32 "\n", id);
	return 0;
}

int cmd_download(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	struct mail m;
	if ((rc = fetch(cl, cl->cli->id, &m, true)) != 0)
		return rc;
	const uint8_t *p = NULL;
	size_t n = 0;
	char name[MSG_FILENAME_MAX + 32];
	name[0] = '\0';
	if (m.type == MSG_UPL && m.m.upl.kind == MSG_UPL_USER) {
		if (!m.upl_open) {
			mail_free(&m);
			return client_fail(cl, CLIENT_EXIT_ERROR,
			                   "file %" PRIu32 " does not open with your key", cl->cli->id);
		}
		p = m.upl_content.p;
		n = m.upl_content.len;
		snprintf(name, sizeof(name), "%.*s", (int)m.upl_name.len, (const char *)m.upl_name.p);
	} else if (m.type == MSG_UPL) {
		p = m.m.upl.data.p;
		n = m.m.upl.data.len;
		snprintf(name, sizeof(name), "%.*s", (int)m.m.upl.name.len, (const char *)m.m.upl.name.p);
	} else if (m.type == MSG_OUT) {
		p = m.m.out.body.p;
		n = m.m.out.body.len;
		snprintf(name, sizeof(name), "report-%" PRIu32 ".eml", cl->cli->id);
	} else {
		mail_free(&m);
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "message %" PRIu32 " is not a file; read it with: allears mail read %" PRIu32,
		                   cl->cli->id, cl->cli->id);
	}
	const char *out = cl->cli->output ? cl->cli->output : name;
	if (!upload_name_valid(name, strlen(name)) && !cl->cli->output) {
		mail_free(&m);
		return client_fail(cl, CLIENT_EXIT_ERROR, "the stored file name is unusable; give -o FILE");
	}
	if (strcmp(out, "-") == 0) {
		rc = client_write_stdout(cl, p, n);
	} else {
		rc = fileio_write_atomic(out, p, n, 0600, cl->cli->force);
		if (rc == -EEXIST)
			rc = client_fail(cl, CLIENT_EXIT_ERROR, "%s exists; --force replaces it", out);
		else if (rc != 0)
			rc = client_fail(cl, CLIENT_EXIT_ERROR, "cannot write %s: %s", out, strerror(-rc));
		else if (cl->cli->json)
			rc = json_emit(json_pack("{s:I, s:s, s:I}", "id", (json_int_t)cl->cli->id, "file",
			                         out, "size", (json_int_t)n))
			         ? 1
			         : 0;
		else {
			char size[32];
			render_size(size, n);
			struct wr w = WR_INIT;
			render_text(&w, (const uint8_t *)out, strlen(out), 0);
			printf("saved %.*s (%s)\n", (int)w.len, (const char *)w.p, size);
			wr_free(&w);
		}
	}
	mail_free(&m);
	return rc;
}

int cmd_debug_post(struct client *cl)
{
	if (!cl->cfg.server[0])
		return client_fail(cl, CLIENT_EXIT_USAGE, "no server configured: give --server HOST");
	struct https_opts o = { .host = cl->cfg.server,
		                    .port = cl->cfg.port,
		                    .ca_file = cl->cfg.ca,
		                    .timeout_ms = cl->cfg.timeout_s * 1000u };
	struct https_conn *h = https_new(&o);
	if (!h)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot set up HTTPS");
	char hostport[CONFIG_HOST_MAX + 16];
	snprintf(hostport, sizeof(hostport), strchr(o.host, ':') ? "[%s]:%u" : "%s:%u", o.host,
	         (unsigned)o.port);
	int rc = 0;
	for (size_t i = 0; i + 1 < cl->cli->nargs; i += 2) {
		uint8_t *body;
		size_t len;
		if ((rc = read_input(cl, cl->cli->arg[i + 1], HTTPS_BODY_MAX, &body, &len)) != 0)
			break;
		struct https_resp resp;
		memset(&resp, 0, sizeof(resp));
		int r = https_post(h, cl->cli->arg[i], body, len, &resp, NULL, NULL);
		free(body);
		if (r != 0) {
			rc = client_fail(cl, api_https_exit(https_error(h)), "%s", https_message(h));
			break;
		}
		char hex[2 * 32 + 1];
		size_t shown = resp.body_len < 32 ? resp.body_len : 32;
		sodium_bin2hex(hex, sizeof(hex), resp.body ? resp.body : (const uint8_t *)"", shown);
		printf("%d %zu %u %s\n", resp.status, resp.body_len, https_connections(h), hex);
		fflush(stdout);
		if (resp.status != 200) {
			char msg[API_ERR_MAX];
			int code = api_http_error(msg, sizeof(msg), resp.status, resp.has_date, resp.date,
			                          resp.retry_after, state_now_ms(), hostport, false);
			fprintf(stderr, "allears: %s\n", msg);
			rc = code;
		}
		https_resp_free(&resp);
	}
	https_free(h);
	return rc;
}
