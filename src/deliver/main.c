/* allears-deliver: placeholder until the daemon lands (issue 5). */
#include <stdio.h>

int main(void)
{
	fputs("<3>allears-deliver: not built yet\n", stderr);
	return 78;
}
