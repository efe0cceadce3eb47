// O_DIRECT writes of 32 MiB + 8 KiB from ordinary pages (mode 0) against huge pages (mode 1), 8 threads, 48 chunks:
// gcc -O2 -pthread pages-write.c && ./a.out /var/tmp/x.blocks 0 8 8 48 && ./a.out /var/tmp/x.blocks 1 8 8 48
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <stdatomic.h>
// usage: w file mode(0 plain aligned_alloc,1 hugepage madvise,2 mmap populate) nbufs threads chunks
static int fd; static long stride; static atomic_int next; static int n; static char **bufs; static int nb;
static void* run(void*a){ long t=(long)a; int i; while((i=atomic_fetch_add(&next,1))<n){ char*b=bufs[(t + i) % nb]; long r=pwrite(fd,b,stride,(long)i*stride); if(r!=stride){perror("pwrite");exit(1);} } return 0; }
static double now(){struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); return ts.tv_sec+ts.tv_nsec*1e-9;}
int main(int c,char**v){
 int mode=atoi(v[2]); nb=atoi(v[3]); int th=atoi(v[4]); n=atoi(v[5]); stride=(32L<<20)+8192;
 fd=open(v[1],O_RDWR|O_CREAT|O_DIRECT,0644); fallocate(fd,0,0,stride*n);
 bufs=malloc(sizeof(char*)*nb);
 for(int i=0;i<nb;i++){ long sz=(stride+(2<<20)-1)&~((2L<<20)-1);
   if(mode==0) bufs[i]=aligned_alloc(4096,stride);
   else { bufs[i]=aligned_alloc(2<<20,sz); madvise(bufs[i],sz,MADV_HUGEPAGE);} memset(bufs[i],i+1,stride);} 
 for(int rep=0;rep<4;rep++){ atomic_store(&next,0); double t0=now(); pthread_t p[64]; for(long t=0;t<th;t++) pthread_create(&p[t],0,run,(void*)t); for(int t=0;t<th;t++) pthread_join(p[t],0); double s=now()-t0; printf("mode %d rep %d: %.2f GB/s\n",mode,rep,stride*(double)n/s/1e9);} 
 return 0; }
