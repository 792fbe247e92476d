#include <stdlib.h>
#include <stdio.h>
static void *volatile sink;
int main(int argc,char**argv){ long n=atol(argv[1]); void *keep=malloc(64); sink=keep; printf("%p\n",keep);
 for(long i=0;i<n;i++){void*p=malloc(64); sink=p; free(p);} if(n) printf("%p\n",(void*)sink); return 0;}
