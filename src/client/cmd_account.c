/* cmd_account.c: whoami, account delete, the address commands (normal
 * addresses hashed here, plaintext kept in the private field) and the admin
 * commands. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "client/json.h"
#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/userid.h"

static int get_info(struct client *cl, struct result_info *info)
{
	struct api_result r;
	int rc = client_call(cl, "account info", APIREQ_ACCOUNT_INFO, NULL, 0, &r);
	if (rc != 0)
		return rc;
	rc = result_info_decode(info, r.data, r.data_len);
	api_result_free(&r);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's account information is malformed");
	return 0;
}

/* The private field, opened. strict: a field that does not open is an error
 * (before changing it); otherwise *ok tells. */
static int get_private(struct client *cl, const struct result_info *info,
                       struct private_data *pd, bool strict, bool *ok)
{
	memset(pd, 0, sizeof(*pd));
	*ok = true;
	if (info->private_len == 0)
		return 0;
	struct api_result r;
	int rc = client_call(cl, "private field", APIREQ_PRIVATE_GET, NULL, 0, &r);
	if (rc != 0)
		return rc;
	rc = private_open(pd, r.data, r.data_len, cl->keys->pfk);
	api_result_free(&r);
	if (rc != 0) {
		memset(pd, 0, sizeof(*pd));
		*ok = false;
		if (strict)
			return client_fail(cl, CLIENT_EXIT_ERROR,
			                   "your private field does not open with this key (%s); "
			                   "not changing it",
			                   rc == -EACCES ? "another key, or changed" : "damaged");
		fprintf(stderr, "allears: warning: your private field does not open with this key; "
		                "address names are unknown\n");
	}
	return 0;
}

static int put_private(struct client *cl, const struct private_data *pd, const char *done)
{
	struct wr w = WR_INIT;
	if (private_seal(&w, pd, cl->keys->pfk) != 0) {
		wr_free(&w);
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot encode the private field");
	}
	struct api_result r;
	int rc = api_call_ok(&cl->api, "saving the private field", APIREQ_PRIVATE_SET, w.p, w.len,
	                     &r);
	wr_free(&w);
	if (rc != 0)
		return client_fail(cl, cl->api.exit_code, "%s, but %s", done, cl->api.err);
	api_result_free(&r);
	return 0;
}

static void flags_text(char *out, size_t n, uint8_t flags)
{
	out[0] = '\0';
	size_t used = 0;
	for (uint8_t bit = 0x01; bit <= 0x20; bit <<= 1) {
		if (!(flags & bit))
			continue;
		int w = snprintf(out + used, n - used, "%s%s", used ? " " : "", cli_flag_name(bit));
		if (w < 0 || (size_t)w >= n - used)
			return;
		used += (size_t)w;
	}
}

static json_t *flags_json(uint8_t flags)
{
	json_t *a = json_array();
	for (uint8_t bit = 0x01; bit <= 0x20; bit <<= 1)
		if (flags & bit)
			json_array_append_new(a, json_string(cli_flag_name(bit)));
	return a;
}

static void entry_name(char out[PRIVATE_TEXT_MAX + 1], const struct private_entry *e)
{
	if (e->text_len)
		memcpy(out, e->text, (size_t)e->text_len + 1);
	else if (addr32_decode(e->addr, out) < 0)
		strcpy(out, "?");
}

static void hex8(char out[2 * ADDRHASH_BYTES + 1], const uint8_t h[ADDRHASH_BYTES])
{
	sodium_bin2hex(out, 2 * ADDRHASH_BYTES + 1, h, ADDRHASH_BYTES);
}

/* The address lines of whoami / address list (text), or a JSON array. */
static void list_addresses(const struct result_info *info, const struct private_data *pd,
                           json_t *arr)
{
	bool shown[PRIVATE_ENTRIES_MAX] = { false };
	for (size_t i = 0; i < info->count; i++) {
		const struct result_addr *a = &info->addr[i];
		bool shield = a->flags & RESULT_ADDR_FLAG_SHIELD;
		int idx = private_find_hash(pd, a->hash, shield);
		char name[PRIVATE_TEXT_MAX + 1], fl[128], hx[2 * ADDRHASH_BYTES + 1];
		const char *nick = "";
		if (idx >= 0) {
			entry_name(name, &pd->e[idx]);
			nick = pd->e[idx].nick;
			shown[idx] = true;
		} else {
			snprintf(name, sizeof(name), "(unknown)");
		}
		hex8(hx, a->hash);
		flags_text(fl, sizeof(fl), a->flags & APIREQ_ADDR_FLAGS_USER);
		if (arr) {
			json_array_append_new(arr, json_pack("{s:s?, s:s, s:s, s:o, s:o, s:b}", "address",
			                                     idx >= 0 ? name : NULL, "kind",
			                                     shield ? "shield" : "normal", "hash", hx,
			                                     "flags", flags_json(a->flags & 0x3F), "nick",
			                                     json_safe_string((const uint8_t *)nick,
			                                                      strlen(nick)),
			                                     "on_server", 1));
		} else {
			printf("  %-18s %-6s %s%s%s%s%s\n", name, shield ? "shield" : "normal", fl,
			       *nick ? "  \"" : "", nick, *nick ? "\"" : "",
			       idx < 0 ? "  (not in your private field; hash " : "");
			if (idx < 0)
				printf("    %s)\n", hx);
		}
	}
	for (size_t i = 0; i < pd->count; i++) {
		if (shown[i])
			continue;
		char name[PRIVATE_TEXT_MAX + 1];
		entry_name(name, &pd->e[i]);
		bool shield = addr32_classify(pd->e[i].addr) == ADDR32_SHIELD;
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "address", name, "kind",
			                                     shield ? "shield" : "normal", "on_server", 0));
		else
			printf("  %-18s %-6s (no longer on the server)\n", name, shield ? "shield" : "normal");
	}
}

static int count_kind(const struct result_info *info, bool shield)
{
	int n = 0;
	for (size_t i = 0; i < info->count; i++)
		n += ((info->addr[i].flags & RESULT_ADDR_FLAG_SHIELD) != 0) == shield;
	return n;
}

static int show_account(struct client *cl, bool only_addresses)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	struct result_info info;
	if ((rc = get_info(cl, &info)) != 0)
		return rc;
	struct private_data *pd = xcalloc(1, sizeof(*pd));
	bool ok;
	if ((rc = get_private(cl, &info, pd, false, &ok)) != 0)
		goto out;
	char name[USERID_NAME_LEN + 1];
	userid_to_name(info.uid, name);
	if (cl->cli->json) {
		json_t *arr = json_array();
		list_addresses(&info, pd, arr);
		json_t *j = only_addresses
		                ? json_pack("{s:o}", "addresses", arr)
		                : json_pack("{s:i, s:s, s:i, s:s, s:i, s:i, s:i, s:b, s:I, s:I, s:o, s:b}",
		                            "uid", (int)info.uid, "user", name, "level", (int)info.level,
		                            "server", cl->api.hostport, "storage_mib",
		                            (int)info.storage_mib, "max_normal", (int)info.max_normal,
		                            "max_shield", (int)info.max_shield, "usage_known",
		                            (int)info.usage_known, "used_bytes",
		                            (json_int_t)info.used_bytes, "used_count",
		                            (json_int_t)info.used_count, "addresses", arr,
		                            "private_field_ok", (int)ok);
		rc = json_emit(j) ? CLIENT_EXIT_ERROR : 0;
		goto out;
	}
	if (!only_addresses) {
		char used[32];
		render_size(used, info.used_bytes);
		printf("user       %s (UserID %u), level %u%s\n", name, (unsigned)info.uid,
		       (unsigned)info.level, info.level == 3 ? " (administrator)" : "");
		printf("server     %s\n", cl->api.hostport);
		if (info.usage_known)
			printf("storage    %s in %" PRIu32 " messages, of %" PRIu32 " MiB\n", used,
			       info.used_count, info.storage_mib);
		else
			printf("storage    usage unknown (Storage did not answer), limit %" PRIu32 " MiB\n",
			       info.storage_mib);
		printf("addresses  %d of %u normal, %d of %u shield\n", count_kind(&info, false),
		       (unsigned)info.max_normal, count_kind(&info, true), (unsigned)info.max_shield);
	}
	list_addresses(&info, pd, NULL);
	fflush(stdout);
out:
	sodium_memzero(pd, sizeof(*pd));
	free(pd);
	return rc;
}

int cmd_whoami(struct client *cl) { return show_account(cl, false); }

int cmd_account_delete(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	if (!client_confirm(cl, "Delete your account, every address and all your mail? Type 'yes': "))
		return client_fail(cl, CLIENT_EXIT_ERROR, "not confirmed; nothing was deleted");
	struct api_result r;
	if (api_call(&cl->api, APIREQ_ACCOUNT_DELETE, NULL, 0, &r) != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	if (st == CHST_FORBIDDEN)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "UserID 0, the master administrator, cannot be deleted");
	if (st != CHST_OK)
		return client_fail(cl, api_status_exit(st), "deleting the account: %s",
		                   api_status_text(st));
	char err[CONFIG_ERR_MAX];
	if (state_set_uid(cl->state_path, false, 0, err, sizeof(err)) != 0)
		fprintf(stderr, "allears: warning: %s\n", err);
	if (cl->cli->json)
		return json_emit(json_pack("{s:b}", "deleted", 1)) ? 1 : 0;
	printf("account deleted\n");
	return 0;
}

/* ---- addresses ---- */

/* The local part of "name@domain" (the part before the last '@'). */
static size_t local_len(const char *s)
{
	const char *at = strrchr(s, '@');
	return at ? (size_t)(at - s) : strlen(s);
}

struct target {
	uint8_t hash[ADDRHASH_BYTES];
	bool shield;
	int idx;           /* entry in the private field, or -1 */
	uint8_t addr[ADDR32_BYTES];
	bool has_addr;
};

/* Finds the address a user named, in this order: an address in the
 * private field, a nickname there, a normal address (hashed here). */
static int resolve(struct client *cl, const struct result_info *info,
                   const struct private_data *pd, const char *name, struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->idx = -1;
	uint8_t addr[ADDR32_BYTES];
	enum addr32_kind kind = addr32_parse(name, local_len(name), addr);
	int idx = kind != ADDR32_INVALID ? private_find_addr(pd, addr) : -1;
	if (idx < 0)
		idx = private_find_nick(pd, name, strlen(name));
	if (idx >= 0) {
		t->idx = idx;
		memcpy(t->hash, pd->e[idx].hash, ADDRHASH_BYTES);
		memcpy(t->addr, pd->e[idx].addr, ADDR32_BYTES);
		t->has_addr = true;
		t->shield = addr32_classify(t->addr) == ADDR32_SHIELD;
		return 0;
	}
	if (kind == ADDR32_NORMAL) {
		memcpy(t->addr, addr, ADDR32_BYTES);
		t->has_addr = true;
		int rc = addrhash_normal(t->hash, t->addr, info->salt, &info->params);
		if (rc != 0)
			return client_fail(cl, CLIENT_EXIT_ERROR, "cannot hash the address (%s)",
			                   strerror(-rc));
		return 0;
	}
	if (kind == ADDR32_SHIELD)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "the shield address '%s' is not in your private field", name);
	return client_fail(cl, CLIENT_EXIT_USAGE, "'%s' is neither an address nor a nickname",
	                   name);
}

static int find_slot(const struct result_info *info, const struct target *t)
{
	for (size_t i = 0; i < info->count; i++)
		if (memcmp(info->addr[i].hash, t->hash, ADDRHASH_BYTES) == 0 &&
		    ((info->addr[i].flags & RESULT_ADDR_FLAG_SHIELD) != 0) == t->shield)
			return (int)i;
	return -1;
}

static int check_nick(struct client *cl, const char *nick)
{
	if (nick && (strlen(nick) > PRIVATE_NICK_MAX ||
	             !private_text_safe((const uint8_t *)nick, strlen(nick))))
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "a nickname has at most %d bytes of text without control characters",
		                   PRIVATE_NICK_MAX);
	return 0;
}

static int addr_add(struct client *cl, struct result_info *info, struct private_data *pd)
{
	const char *name = cl->cli->arg[0];
	size_t nl = local_len(name);
	uint8_t addr[ADDR32_BYTES];
	enum addr32_kind kind = addr32_parse(name, nl, addr);
	if (kind == ADDR32_SHIELD)
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "'%s' has 16 letters and digits: a normal address has 1-15 (shield "
		                   "addresses are made by the server: allears address shield)",
		                   name);
	if (kind != ADDR32_NORMAL)
		return client_fail(cl, CLIENT_EXIT_USAGE,
		                   "'%s' is not a valid address (1-15 letters and digits; 'system' is "
		                   "not allowed)",
		                   name);
	/* Keep the text as typed when it is printable ASCII, else the canonical form. */
	bool printable = nl <= PRIVATE_TEXT_MAX;
	for (size_t i = 0; i < nl && printable; i++)
		printable = (unsigned char)name[i] >= 0x21 && (unsigned char)name[i] <= 0x7E;
	uint8_t hash[ADDRHASH_BYTES];
	int rc = addrhash_normal(hash, addr, info->salt, &info->params);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot hash the address (%s)", strerror(-rc));
	struct private_entry e;
	const char *nick = cl->cli->nick;
	if (private_entry_make(&e, addr, hash, printable ? name : NULL, printable ? nl : 0, nick,
	                       nick ? strlen(nick) : 0) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot record the address");
	struct api_result r;
	if (api_call(&cl->api, APIREQ_ADDRESS_ADD_NORMAL, hash, sizeof(hash), &r) != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	if (st == CHST_EXISTS)
		return client_fail(cl, CLIENT_EXIT_ERROR, "the address '%.*s' is taken%s", (int)nl, name,
		                   addr32_is_reserved(addr) ? " (reserved for the administrator)" : "");
	if (st == CHST_LIMIT)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "you have as many normal addresses as your level allows (%u)",
		                   (unsigned)info->max_normal);
	if (st == CHST_FORBIDDEN)
		return client_fail(cl, CLIENT_EXIT_ERROR, "the address '%.*s' cannot be registered",
		                   (int)nl, name);
	if (st != CHST_OK)
		return client_fail(cl, api_status_exit(st), "adding the address: %s",
		                   api_status_text(st));
	if (private_put(pd, &e) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "the address is registered, but your private field is full");
	char canon[ADDR32_TEXT_MAX];
	if (addr32_decode(addr, canon) < 0)
		strcpy(canon, "?");
	if ((rc = put_private(cl, pd, "the address is registered")) != 0)
		return rc;
	if (cl->cli->json)
		return json_emit(json_pack("{s:s, s:s}", "address", e.text_len ? e.text : canon,
		                           "canonical", canon))
		           ? 1
		           : 0;
	printf("added %s (canonical form %s)\n", e.text_len ? e.text : canon, canon);
	return 0;
}

static int addr_shield(struct client *cl, struct private_data *pd)
{
	struct api_result r;
	int rc = client_call(cl, "new shield address", APIREQ_ADDRESS_ADD_SHIELD, NULL, 0, &r);
	if (rc != 0)
		return rc;
	uint8_t hash[ADDRHASH_BYTES], addr[ADDR32_BYTES];
	rc = result_shield_decode(hash, addr, r.data, r.data_len);
	api_result_free(&r);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's answer is malformed");
	char canon[ADDR32_TEXT_MAX];
	if (addr32_decode(addr, canon) < 0)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's answer is malformed");
	struct private_entry e;
	const char *nick = cl->cli->nick;
	/* Printed before anything else can fail: the server shows it only once. */
	if (cl->cli->json)
		(void)json_emit(json_pack("{s:s}", "address", canon));
	else
		printf("%s\n", canon);
	fflush(stdout);
	if (private_entry_make(&e, addr, hash, NULL, 0, nick, nick ? strlen(nick) : 0) != 0 ||
	    private_put(pd, &e) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR,
		                   "the address is registered, but your private field is full");
	return put_private(cl, pd, "the address is registered");
}

static int addr_rm(struct client *cl, struct result_info *info, struct private_data *pd)
{
	struct target t;
	int rc = resolve(cl, info, pd, cl->cli->arg[0], &t);
	if (rc != 0)
		return rc;
	uint8_t args[ADDRHASH_BYTES + 1];
	memcpy(args, t.hash, ADDRHASH_BYTES);
	args[ADDRHASH_BYTES] = t.shield ? APIREQ_KIND_SHIELD : APIREQ_KIND_NORMAL;
	struct api_result r;
	if (api_call(&cl->api, APIREQ_ADDRESS_DELETE, args, sizeof(args), &r) != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	if (st != CHST_OK && !(st == CHST_NOT_FOUND && t.idx >= 0))
		return client_fail(cl, st == CHST_NOT_FOUND ? CLIENT_EXIT_ERROR : api_status_exit(st),
		                   "%s: %s", cl->cli->arg[0],
		                   st == CHST_NOT_FOUND ? "you have no such address" : api_status_text(st));
	if (t.idx >= 0) {
		private_remove(pd, t.idx);
		if ((rc = put_private(cl, pd, "the address is deleted")) != 0)
			return rc;
	}
	if (cl->cli->json)
		return json_emit(json_pack("{s:b}", "deleted", st == CHST_OK)) ? 1 : 0;
	printf("%s\n", st == CHST_OK ? "deleted" : "was no longer on the server; forgotten");
	return 0;
}

static int addr_flags(struct client *cl, struct result_info *info, struct private_data *pd)
{
	struct target t;
	int rc = resolve(cl, info, pd, cl->cli->arg[0], &t);
	if (rc != 0)
		return rc;
	int slot = find_slot(info, &t);
	if (slot < 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s: you have no such address",
		                   cl->cli->arg[0]);
	uint8_t flags = (uint8_t)(((info->addr[slot].flags & APIREQ_ADDR_FLAGS_USER) |
	                           cl->cli->flags_set) &
	                          ~cl->cli->flags_clear);
	uint8_t args[ADDRHASH_BYTES + 2];
	memcpy(args, t.hash, ADDRHASH_BYTES);
	args[ADDRHASH_BYTES] = t.shield ? APIREQ_KIND_SHIELD : APIREQ_KIND_NORMAL;
	args[ADDRHASH_BYTES + 1] = flags;
	struct api_result r;
	if ((rc = client_call(cl, "setting the flags", APIREQ_ADDRESS_SET_FLAGS, args, sizeof(args),
	                      &r)) != 0)
		return rc;
	api_result_free(&r);
	char fl[128];
	flags_text(fl, sizeof(fl), flags);
	if (cl->cli->json)
		return json_emit(json_pack("{s:o}", "flags", flags_json(flags))) ? 1 : 0;
	printf("flags: %s\n", *fl ? fl : "(none)");
	return 0;
}

static int addr_nick(struct client *cl, struct result_info *info, struct private_data *pd)
{
	struct target t;
	int rc = resolve(cl, info, pd, cl->cli->arg[0], &t);
	if (rc != 0)
		return rc;
	const char *nick = cl->cli->nargs > 1 ? cl->cli->arg[1] : NULL;
	if ((rc = check_nick(cl, nick)) != 0)
		return rc;
	if (find_slot(info, &t) < 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s: you have no such address",
		                   cl->cli->arg[0]);
	struct private_entry e;
	if (t.idx >= 0) {
		e = pd->e[t.idx];
		rc = private_entry_make(&e, e.addr, e.hash, e.text, e.text_len, nick,
		                        nick ? strlen(nick) : 0);
	} else {
		rc = private_entry_make(&e, t.addr, t.hash, NULL, 0, nick, nick ? strlen(nick) : 0);
	}
	if (rc != 0 || private_put(pd, &e) != 0)
		return client_fail(cl, CLIENT_EXIT_ERROR, "cannot record the nickname");
	return put_private(cl, pd, "nothing changed");
}

int cmd_address(struct client *cl)
{
	enum cli_cmd c = cl->cli->cmd;
	if (c == CLI_ADDR_LIST)
		return show_account(cl, true);
	int rc = check_nick(cl, cl->cli->nick);
	if (rc != 0)
		return rc;
	if ((rc = client_api(cl, true)) != 0)
		return rc;
	struct result_info info;
	if ((rc = get_info(cl, &info)) != 0)
		return rc;
	struct private_data *pd = xcalloc(1, sizeof(*pd));
	bool ok;
	rc = get_private(cl, &info, pd, true, &ok);
	if (rc == 0) {
		switch (c) {
		case CLI_ADDR_ADD: rc = addr_add(cl, &info, pd); break;
		case CLI_ADDR_SHIELD: rc = addr_shield(cl, pd); break;
		case CLI_ADDR_RM: rc = addr_rm(cl, &info, pd); break;
		case CLI_ADDR_FLAGS: rc = addr_flags(cl, &info, pd); break;
		case CLI_ADDR_NICK: rc = addr_nick(cl, &info, pd); break;
		default: rc = client_fail(cl, CLIENT_EXIT_USAGE, "unknown address command"); break;
		}
	}
	sodium_memzero(pd, sizeof(*pd));
	free(pd);
	return rc;
}

/* ---- admin ---- */

static int admin_users(struct client *cl)
{
	struct api_result r;
	int rc = client_call(cl, "listing users", APIREQ_ADMIN_LIST_USERS, NULL, 0, &r);
	if (rc != 0)
		return rc;
	struct result_user *u;
	size_t n;
	rc = result_users_decode(&u, &n, r.data, r.data_len);
	api_result_free(&r);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's user list is malformed");
	json_t *arr = cl->cli->json ? json_array() : NULL;
	if (!arr)
		printf("%5s  %-4s  %5s  %6s  %6s\n", "UID", "USER", "LEVEL", "NORMAL", "SHIELD");
	for (size_t i = 0; i < n; i++) {
		char name[USERID_NAME_LEN + 1];
		userid_to_name(u[i].uid, name);
		if (arr)
			json_array_append_new(arr, json_pack("{s:i, s:s, s:i, s:i, s:i}", "uid",
			                                     (int)u[i].uid, "user", name, "level",
			                                     (int)u[i].level, "normal", (int)u[i].normal,
			                                     "shield", (int)u[i].shield));
		else
			printf("%5u  %-4s  %5u  %6u  %6u\n", (unsigned)u[i].uid, name, (unsigned)u[i].level,
			       (unsigned)u[i].normal, (unsigned)u[i].shield);
	}
	free(u);
	if (arr)
		return json_emit(json_pack("{s:o}", "users", arr)) ? 1 : 0;
	return 0;
}

static int admin_invite(struct client *cl)
{
	uint8_t args[8];
	args[0] = cl->cli->level;
	args[1] = args[2] = args[3] = 0;
	le32_store(args + 4, cl->cli->days * 86400u);
	struct api_result r;
	int rc = client_call(cl, "making an invitation", APIREQ_ADMIN_INVITE, args, sizeof(args), &r);
	if (rc != 0)
		return rc;
	uint8_t inv[APIREQ_INVITE_BYTES];
	uint64_t expires;
	rc = result_invite_decode(inv, &expires, r.data, r.data_len);
	api_result_free(&r);
	if (rc != 0)
		return client_fail(cl, CLIENT_EXIT_NET, "the server's invitation is malformed");
	char text[APIREQ_INVITE_TEXT_LEN + 1], date[RENDER_DATE_MAX];
	apireq_invite_to_text(text, inv);
	render_date(date, expires, true);
	if (cl->cli->json)
		return json_emit(json_pack("{s:s, s:i, s:I, s:s}", "invitation", text, "level",
		                           (int)cl->cli->level, "expires_ms", (json_int_t)expires,
		                           "expires", date))
		           ? 1
		           : 0;
	printf("%s\n", text);
	fflush(stdout);
	fprintf(stderr, "invitation for level %u, valid until %s; the new user runs:\n"
	                "  allears register %s\n",
	        (unsigned)cl->cli->level, date, text);
	return 0;
}

int cmd_admin(struct client *cl)
{
	int rc = client_api(cl, true);
	if (rc != 0)
		return rc;
	const struct cli *c = cl->cli;
	uint8_t args[8];
	size_t n = 0;
	uint8_t cmd;
	const char *what;
	switch (c->cmd) {
	case CLI_ADMIN_USERS: return admin_users(cl);
	case CLI_ADMIN_INVITE: return admin_invite(cl);
	case CLI_ADMIN_LEVEL:
		le16_store(args, c->uid);
		args[2] = c->level;
		n = 3;
		cmd = APIREQ_ADMIN_SET_LEVEL;
		what = "setting the level";
		break;
	case CLI_ADMIN_LIMITS:
		args[0] = c->level;
		args[1] = c->max_normal;
		args[2] = c->max_shield;
		args[3] = 0;
		le32_store(args + 4, c->mib);
		n = 8;
		cmd = APIREQ_ADMIN_SET_LIMITS;
		what = "setting the limits";
		break;
	case CLI_ADMIN_RM:
		if (!client_confirm(cl, "Delete this user, their addresses and all their mail? "
		                        "Type 'yes': "))
			return client_fail(cl, CLIENT_EXIT_ERROR, "not confirmed; nothing was deleted");
		le16_store(args, c->uid);
		n = 2;
		cmd = APIREQ_ADMIN_DELETE_USER;
		what = "deleting the user";
		break;
	default: return client_fail(cl, CLIENT_EXIT_USAGE, "unknown admin command");
	}
	struct api_result r;
	if (api_call(&cl->api, cmd, args, n, &r) != 0)
		return client_api_fail(cl);
	uint8_t st = r.status;
	api_result_free(&r);
	if (st == CHST_NOT_FOUND)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s: no user %u", what, (unsigned)c->uid);
	if (st == CHST_FORBIDDEN)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s: not possible for UserID 0", what);
	if (st == CHST_DENIED)
		return client_fail(cl, CLIENT_EXIT_ERROR, "%s: only administrators (level 3) may", what);
	if (st != CHST_OK)
		return client_fail(cl, api_status_exit(st), "%s: %s", what, api_status_text(st));
	if (c->json)
		return json_emit(json_pack("{s:b}", "ok", 1)) ? 1 : 0;
	printf("done\n");
	return 0;
}
