// Physically contiguous runs in a 32 MiB buffer, ordinary pages against MADV_HUGEPAGE (docs/ssd-tier.md, "Where the
// write path lost time"). Needs root (/proc/self/pagemap shows frame numbers only to root). gcc -O2 pages.c && sudo ./a.out
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/mman.h>
// physically contiguous runs in a 32 MiB buffer: plain aligned_alloc vs MADV_HUGEPAGE
static long runs(char*b,long len){int fd=open("/proc/self/pagemap",O_RDONLY); long r=0; uint64_t prev=0; for(long off=0;off<len;off+=4096){uint64_t e; pread(fd,&e,8,((uintptr_t)(b+off)/4096)*8); uint64_t pfn=e&((1ULL<<55)-1); if(off==0||pfn!=prev+1) r++; prev=pfn;} close(fd); return r;}
int main(){ long len=32L<<20; for(int m=0;m<2;m++) for(int i=0;i<4;i++){ char*b; if(m==0) b=aligned_alloc(4096,len); else {b=aligned_alloc(2<<20,len); madvise(b,len,MADV_HUGEPAGE);} memset(b,1,len); long r=runs(b,len); printf("mode %d buf %d: %ld runs, %.0f KiB per run -> bio of 254 segs %.0f KiB\n",m,i,r,len/1024.0/r, (len/1024.0/r)*254>4096?4096:(len/1024.0/r)*254);} }
