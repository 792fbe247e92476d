import math,random
cls=[16,32,48,64,80,96,112,128,160,192,224,256,320,384,448,512,640,768]
# jemalloc slab sizes (pages) for classes: slab = lcm-ish; use je defaults
slab={16:1,32:1,48:3,64:1,80:5,96:3,112:7,128:1,160:5,192:3,224:7,256:1,320:5,384:3,448:7,512:1,640:5,768:3}
random.seed(1)
N=200000
same_trl=same_lead=pg=0
for i in range(N):
    n=round(16*(32**random.random()))
    c=next(x for x in cls if x>=n+8)
    nslots=slab[c]*4096//c
    k=random.randrange(nslots)
    u=k*c
    line=u//64
    if (u+c-8)//64==line: same_trl+=1
    if u%4096==0: pg+=1
    elif (u-8)//64==line: same_lead+=1
print("trailer same line %.3f  lead same line %.3f  page-start %.3f"%(same_trl/N,same_lead/N,pg/N))
