/* vmaild.c - placeholder main, replaced by the process model. */
#include <stdio.h>
int main(void)
{
	return 0;
}
