/* chantool.c: one channel connection as a given role, for integration tests
 * written in Python (which has no channel implementation). Not installed.
 *   chantool [--fd-in FILE] [--fd-out FILE] SOCKET KEYSFILE ROLE SERVER TYPE HEX
 *   chantool SOCKET KEYSFILE ROLE SERVER - < lines of "TYPE HEX [FILE]"
 * KEYSFILE is ROLE's key bundle (the launcher writes <state>/keys/<role>.keys);
 * ROLE and SERVER are role names (api, mta, storage, ...). HEX is the payload
 * after the call id ("-" for empty). --fd-in sends FILE as a sealed memfd and
 * puts its u64 length in front of the payload (section 7.7). Each answer is
 * printed as "TYPE HEX" (the payload after the call id, bulk length included);
 * an answer's memfd goes to --fd-out FILE, or is printed as "fd HEX".
 * In batch mode (one connection, one call per line, each answer flushed as it
 * comes), a line's optional FILE is sent as --fd-in sends it.
 * Exit status: 0 when every call was answered, 1 otherwise. */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/keybundle.h"
#include "ipc/channel.h"
#include "ipc/memfd.h"
#include "ipc/rpc.h"

#define CHANTOOL_LINE_MAX (2 * RPC_PAYLOAD_MAX + PATH_MAX + 64)
#define CHANTOOL_FILE_MAX (64u << 20)

static enum role role_by_name(const char *s)
{
	for (int r = ROLE_ACCOUNT; r <= ROLE_MAX; r++)
		if (strcmp(role_name((enum role)r), s) == 0)
			return (enum role)r;
	fatalx("unknown role %s", s);
}

static uint8_t *read_file(const char *path, size_t max, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("open %s", path);
	uint8_t *p = xmalloc(max + 1);
	size_t n = fread(p, 1, max + 1, f);
	if (ferror(f) || n > max)
		fatalx("cannot read %s (or it is too large)", path);
	fclose(f);
	*ret_len = n;
	return p;
}

/* FILE's bytes in a sealed memfd; its u64 length goes to payload[0..8). */
static int bulk_memfd(const char *path, uint8_t *payload)
{
	size_t flen;
	uint8_t *data = read_file(path, CHANTOOL_FILE_MAX, &flen);
	int fd = memfd_from_buffer(data, flen, "chantool");
	free(data);
	if (fd < 0)
		fatalx("memfd: %s", strerror(-fd));
	le64_store(payload, flen);
	return fd;
}

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex), bin_len = 0;
	const char *end = NULL;
	if (strcmp(hex, "-") == 0)
		return 0;
	if (n % 2 || n / 2 > cap || sodium_hex2bin(out, cap, hex, n, NULL, &bin_len, &end) != 0 ||
	    end != hex + n)
		fatalx("bad hex payload");
	return bin_len;
}

static void print_hex(const uint8_t *p, size_t n)
{
	if (n == 0)
		printf("-");
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int one_call(struct rpc_sync *c, uint16_t type, const uint8_t *payload, size_t len,
                    int fd, const char *fd_out)
{
	static uint8_t reply[CHAN_FRAME_MAX];
	uint16_t rtype;
	size_t rlen;
	int rfd = -1;
	int rc = rpc_sync_call(c, type, payload, len, fd, &rtype, reply, sizeof(reply), &rlen, &rfd);
	if (rc < 0) {
		fprintf(stderr, "chantool: call failed: %s\n", strerror(-rc));
		return rc;
	}
	printf("%u ", rtype);
	print_hex(reply, rlen);
	printf("\n");
	if (rfd >= 0) {
		const uint8_t *map;
		size_t mlen;
		rc = chan_bulk_map(rfd, reply, rlen, CHANTOOL_FILE_MAX, &map, &mlen);
		close(rfd);
		if (rc < 0) {
			fprintf(stderr, "chantool: bad memfd in the answer: %s\n", strerror(-rc));
			return rc;
		}
		if (fd_out) {
			FILE *f = fopen(fd_out, "wb");
			if (!f || fwrite(map, 1, mlen, f) != mlen || fclose(f) != 0)
				fatal("write %s", fd_out);
		} else {
			printf("fd ");
			print_hex(map, mlen);
			printf("\n");
		}
		memfd_unmap(map, mlen);
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *fd_in = NULL, *fd_out = NULL;
	int i = 1;
	if (sodium_init() < 0)
		fatalx("sodium_init");
	while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--fd-in") == 0)
			fd_in = argv[i + 1];
		else if (strcmp(argv[i], "--fd-out") == 0)
			fd_out = argv[i + 1];
		else
			break;
		i += 2;
	}
	if (argc - i != 6 && argc - i != 5) {
		fputs("usage: chantool [--fd-in FILE] [--fd-out FILE] SOCKET KEYSFILE ROLE SERVER "
		      "TYPE HEX | SOCKET KEYSFILE ROLE SERVER -\n",
		      stderr);
		return 1;
	}
	const char *sock = argv[i], *keys = argv[i + 1];
	enum role me = role_by_name(argv[i + 2]), server = role_by_name(argv[i + 3]);

	size_t klen;
	uint8_t *kbytes = read_file(keys, KEYBUNDLE_MAX_BYTES, &klen);
	struct keybundle *kb = keybundle_new();
	if (keybundle_parse(kb, kbytes, klen, me) < 0)
		fatalx("%s is not %s's key bundle", keys, role_name(me));
	sodium_memzero(kbytes, klen);
	free(kbytes);
	const uint8_t *pair = keybundle_pair(kb, me, server);
	if (!pair)
		fatalx("%s holds no key for %s -> %s", keys, role_name(me), role_name(server));

	struct rpc_sync c;
	int rc = rpc_sync_connect(&c, sock, me, server, pair);
	keybundle_free(kb);
	if (rc < 0) {
		fprintf(stderr, "chantool: cannot connect to %s: %s\n", sock, strerror(-rc));
		return 1;
	}
	uint8_t *payload = xmalloc(RPC_PAYLOAD_MAX);
	int status = 0;
	if (argc - i == 5) {
		if (strcmp(argv[i + 4], "-") != 0 || fd_in)
			fatalx("batch mode takes \"-\" and no --fd-in");
		char *line = xmalloc(CHANTOOL_LINE_MAX);
		while (status == 0 && fgets(line, CHANTOOL_LINE_MAX, stdin)) {
			char *sp = strchr(line, ' ');
			size_t n = strlen(line);
			if (n && line[n - 1] == '\n')
				line[--n] = '\0';
			if (!sp)
				fatalx("want \"TYPE HEX [FILE]\" lines");
			*sp = '\0';
			char *file = strchr(sp + 1, ' ');
			if (file)
				*file++ = '\0';
			size_t off = 0;
			int fd = file ? bulk_memfd(file, payload) : -1;
			if (fd >= 0)
				off = CHAN_BULK_LEN_BYTES;
			size_t len = off + unhex(payload + off, RPC_PAYLOAD_MAX - off, sp + 1);
			status = one_call(&c, (uint16_t)atoi(line), payload, len, fd, NULL) < 0;
			if (fd >= 0)
				close(fd);
		}
		free(line);
	} else {
		int fd = -1;
		size_t off = 0;
		if (fd_in) {
			fd = bulk_memfd(fd_in, payload);
			off = CHAN_BULK_LEN_BYTES;
		}
		size_t len = off + unhex(payload + off, RPC_PAYLOAD_MAX - off, argv[i + 5]);
		status = one_call(&c, (uint16_t)atoi(argv[i + 4]), payload, len, fd, fd_out) < 0;
		if (fd >= 0)
			close(fd);
	}
	free(payload);
	rpc_sync_close(&c);
	return status;
}
