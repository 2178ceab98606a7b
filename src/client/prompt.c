/* prompt.c: passphrases and confirmations. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/prompt.h"

int prompt_read_line(FILE *f, char *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;
	int ch;
	while ((ch = fgetc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			goto bad;
		if (n + 1 >= cap) {
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			sodium_memzero(out, cap);
			return -E2BIG;
		}
		out[n++] = (char)ch;
	}
	if (ch == EOF && n == 0)
		return -EIO;
	if (n && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	*ret_len = n;
	return 0;
bad:
	sodium_memzero(out, cap);
	return -EINVAL;
}

int prompt_line_from_file(const char *path, char *out, size_t cap, size_t *ret_len)
{
	if (strcmp(path, "-") == 0)
		return prompt_read_line(stdin, out, cap, ret_len);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int rc = prompt_read_line(f, out, cap, ret_len);
	fclose(f);
	return rc;
}

int prompt_secret_tty(const char *question, char *out, size_t cap, size_t *ret_len)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -ENOTTY;
	FILE *f = fdopen(fd, "r+");
	if (!f) {
		close(fd);
		return -ENOTTY;
	}
	struct termios old, quiet;
	bool restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	fputs(question, f);
	fflush(f);
	int rc = prompt_read_line(f, out, cap, ret_len);
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	fputs("\n", f);
	fclose(f);
	return rc;
}

bool prompt_confirm(const char *question)
{
	char line[64];
	size_t n;
	fputs(question, stderr);
	fflush(stderr);
	if (prompt_read_line(stdin, line, sizeof(line), &n) != 0)
		return false;
	return strcmp(line, "yes") == 0;
}
