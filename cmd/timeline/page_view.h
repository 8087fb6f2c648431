// The page of `raftlab timeline --html`: its CSS, body and script. html.cc writes the data as
// one JSON document in <script id="raftlab-timeline"> (format: html.cc and page_data.h; times
// in µs from the first record); this script draws it on canvases, only what is visible:
//   - a lane per node: its role as coloured bands with the term, decision marks, and below them
//     the commit (green) and last index (grey) over time;
//   - messages as arrows from the send (sender's lane) to the receipt (receiver's lane), a
//     Lamport diagram, filterable by type; an unanswered send is a stub with a cross;
//   - fault bands from the CLI's actions (network faults across all lanes, killed and paused
//     stretches on their lane) and the client operations of --history below the lanes;
//   - zoom (wheel, buttons), pan (drag), a time slider, and each node's log at the slider's
//     time drawn as RaftScope does (the last entries as boxes coloured by term, a commit mark).
// Click an arrow, a mark or a log entry to see its fields. `window.raftlabTimeline` exposes
// what was drawn for the browser test (tests/browser/check_timeline.mjs).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

namespace raftlab::timeline {

inline constexpr const char* kPageCss = R"CSS(
body{font:13px/1.45 system-ui,sans-serif;margin:12px 16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px} p.sum{margin:2px 0 6px;color:#444}
#controls{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:6px 0}
#controls button{font:12px system-ui,sans-serif;padding:2px 8px;cursor:pointer;border:1px solid #aaa;
border-radius:4px;background:#f8f8f8}
#range{font-family:ui-monospace,monospace;font-size:12px;color:#444;margin-left:6px}
#types label{margin-right:10px;font-size:12px;white-space:nowrap}
#types .sw,#legend .sw{display:inline-block;width:11px;height:11px;vertical-align:-1px;margin-right:3px;
border:1px solid #888}
#legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#333;margin:4px 0}
canvas{display:block;width:100%} #main{border:1px solid #ccc;cursor:grab} #logs{border:1px solid #ccc}
#sliderRow{display:flex;gap:8px;align-items:center;margin:6px 0} #slider{flex:1}
#detail{background:#f6f6f6;padding:6px 8px;min-height:18px;font:12px ui-monospace,monospace;white-space:pre-wrap}
)CSS";

inline constexpr const char* kPageBody = R"HTML(<h1>raftlab timeline</h1>
<p class="sum" id="sum"></p>
<div id="controls"><button id="zoom-in">zoom in</button><button id="zoom-out">zoom out</button>
<button id="zoom-all">whole run</button><span id="range"></span></div>
<div id="types"></div><div id="legend"></div>
<canvas id="main"></canvas>
<div id="sliderRow"><span>log at</span><input id="slider" type="range" min="0" step="1">
<span id="sliderTime"></span></div>
<canvas id="logs"></canvas>
<p class="hint">Drag to pan, wheel to zoom; click an arrow, a mark or a log entry for its fields.</p>
<pre id="detail"></pre>
)HTML";

// The JS both pages use (this one and `raftlab ui`'s, cmd/ui/page.h): one global, RaftlabLog,
// that decodes the page data's columns (a lane's log steps, the messages' send times) and
// draws one node's log as a row of boxes coloured by term, RaftScope's picture. The ui page
// draws its live logs and, on its time slider, the logs of this same data with it.
inline constexpr char kLogModelJs[] = R"JS(
const RaftlabLog=(function(){
'use strict';
const termColor=t=>'hsl('+((t*67)%360)+',60%,72%)';
// A lane's log steps [time delta, kind, first, last - first, term]... decoded: the time of
// each step, the commit and last index after it, and the largest last index.
function decodeSteps(g){const n=g.length/5,t=new Float64Array(n),c=new Float64Array(n),l=new Float64Array(n);
 let acc=0,commit=0,last=0,max=1;
 for(let k=0;k<n;k++){acc+=g[5*k];t[k]=acc;const kind=g[5*k+1],a=g[5*k+2],b=a+g[5*k+3];
  if(kind===0)last=b;else if(kind===1)last=a-1;else if(kind===2){last=Math.max(last,a);commit=Math.max(commit,a);}
  else commit=a;c[k]=commit;l[k]=last;if(last>max)max=last;}
 return {t:t,c:c,l:l,max:max};}
// A log at time t, replayed from its steps (g, and their times T from decodeSteps): segments
// [first, last, term], the snapshot index below them, and the commit index.
function logAt(g,T,t){let segs=[],snap=0,commit=0;
 const cut=f=>{while(segs.length&&segs[segs.length-1][0]>=f)segs.pop();const l=segs[segs.length-1];if(l&&l[1]>=f)l[1]=f-1;};
 for(let k=0;k<T.length&&T[k]<=t;k++){const kind=g[5*k+1],a=g[5*k+2],b=a+g[5*k+3],term=g[5*k+4];
  if(kind===0){cut(a);const l=segs[segs.length-1];if(l&&l[2]===term&&l[1]===a-1)l[1]=b;else segs.push([a,b,term]);}
  else if(kind===1)cut(a);else if(kind===2){segs=[];snap=a;commit=Math.max(commit,a);}else commit=a;}
 const last=segs.length?segs[segs.length-1][1]:snap;return {segs:segs,snap:snap,commit:commit,last:last};}
// The same shape from a live log's last entries [[index, term], ...] (oldest first): what
// precedes them counts as the "snapshot" box (entries not shown).
function fromEntries(entries,commit,last){const segs=[];
 for(const [i,t] of entries){const l=segs[segs.length-1];if(l&&l[2]===t&&l[1]===i-1)l[1]=i;else segs.push([i,i,t]);}
 const snap=entries.length?entries[0][0]-1:last;return {segs:segs,snap:snap,commit:commit,last:last};}
function termOf(L,idx){for(let k=L.segs.length-1;k>=0;k--){const s=L.segs[k];if(idx>=s[0]&&idx<=s[1])return s[2];}return 0;}
// Draws the last `max` entries of L on g from x, in a row of height rowH at y: a grey box for
// what precedes them, a box per entry (its term written in it, every 5th index under it), a
// black bar after the committed entry. Returns the boxes and the x of each index drawn.
function drawRow(g,L,x,y,boxW,rowH,max){const boxes=[],xs=new Map();
 const from=Math.max(L.snap+1,L.last-max+1);g.font='10px system-ui';
 if(L.snap>0&&from===L.snap+1){g.fillStyle='#bbb';g.fillRect(x,y+6,boxW,boxW-6);g.fillStyle='#222';
  g.fillText('≤'+L.snap,x+1,y+20);x+=boxW+2;}
 for(let idx=from;idx<=L.last;idx++){const term=termOf(L,idx);g.fillStyle=termColor(term);
  g.fillRect(x,y+6,boxW-2,boxW-6);g.fillStyle='#222';g.fillText(String(term),x+3,y+20);
  if(idx%5===0)g.fillText(String(idx),x+1,y+rowH);
  boxes.push({x:x,y:y+6,idx:idx,term:term,committed:idx<=L.commit});xs.set(idx,x);
  if(idx===L.commit){g.fillStyle='#000';g.fillRect(x+boxW-3,y+2,3,boxW);}x+=boxW;}
 return {boxes:boxes,xs:xs};}
// The messages' columns: absolute send times (ms) from the deltas, receipt times (mr; -1: none)
// and the longest flight.
function decodeMessages(M){const n=M.s.length,ms=new Float64Array(n),mr=new Float64Array(n);let acc=0,maxLat=0;
 for(let i=0;i<n;i++){acc+=M.s[i];ms[i]=acc;const d=M.d[i];mr[i]=d>=0?acc+d:-1;if(d>maxLat)maxLat=d;}
 return {ms:ms,mr:mr,maxLat:maxLat};}
// The first message sent at or after t (ms sorted).
function firstAt(ms,t){let lo=0,hi=ms.length;while(lo<hi){const m=(lo+hi)>>1;if(ms[m]<t)lo=m+1;else hi=m;}return lo;}
// A lane's role band at t ("r": [start, end, role code, term]...), or null (not known).
function bandAt(r,t){for(let k=0;k<r.length;k+=4)if(r[k]<=t&&t<r[k+1])return {role:r[k+2],term:r[k+3]};return null;}
return {termColor:termColor,decodeSteps:decodeSteps,logAt:logAt,fromEntries:fromEntries,termOf:termOf,
 drawRow:drawRow,decodeMessages:decodeMessages,firstAt:firstAt,bandAt:bandAt};
})();
)JS";

// The timeline page's own script, after kLogModelJs.
inline constexpr char kTimelineJs[] = R"JS(
(function(){
'use strict';
const D=JSON.parse(document.getElementById('raftlab-timeline').textContent);
const ROLE=[{n:'follower',c:'#cfdcf2'},{n:'precandidate',c:'#fbe3a0'},{n:'candidate',c:'#f3b25b'},
 {n:'leader',c:'#5dbb6d'},{n:'learner',c:'#ddd0f0'}];
const FAM={net:'rgba(60,110,255,0.13)',kill:'rgba(40,40,40,0.25)',pause:'rgba(150,70,255,0.2)'};
const LABEL_W=56,AXIS_H=20,LANE_H=66,BAND_H=16,PLOT_TOP=22,PLOT_H=30,OP_ROW_H=4,OPS_ROWS_MAX=64;
const LOG_ROW_H=34,LOG_BOX_W=24,LOG_ENTRIES_MAX=40,CLICK_PX=5,ZOOM_STEP=2,MIN_SPAN_US=20,TICK_PX=110;
const HEADS_MAX=3000;  // arrowheads are drawn only when fewer arrows than this are visible
const $=id=>document.getElementById(id);
const T1=Math.max(D.t1,1),N=D.nodes.length,M=D.m,NM=M.s.length;
const {ms,mr,maxLat}=RaftlabLog.decodeMessages(M);
const on=M.types.map(()=>true);
const typeColor=k=>'hsl('+((k*137)%360)+',65%,40%)';
const main=$('main'),logs=$('logs'),slider=$('slider');
const view={v0:0,v1:T1};let sliderT=T1;
const S=window.raftlabTimeline={ready:false,lanes:N,full:T1,total:M.total,shown:M.shown,types:M.types.slice()};
const fmt=us=>(us/1e6).toFixed(6)+' s';
$('sum').textContent=N+' nodes, '+fmt(T1)+'; showing '+M.shown+' of '+M.total+' messages'+
 (M.shown<M.total?' (steady replication thinned)':'')+(D.torn?'; '+D.torn+' unfinished lines skipped':'');
// Process rows of the client operations.
const procRow=new Map();for(const p of D.ops.p)if(!procRow.has(p))procRow.set(p,procRow.size%OPS_ROWS_MAX);
const opsTop=AXIS_H+N*LANE_H+6,opsRows=Math.min(procRow.size,OPS_ROWS_MAX);
const H=opsTop+opsRows*OP_ROW_H+8;
// Each lane's log steps decoded (times from deltas), and its commit and last index replayed.
const LG=D.lanes.map(L=>RaftlabLog.decodeSteps(L.g));
let W=800,drawn=[];
function px(t){return LABEL_W+(t-view.v0)/(view.v1-view.v0)*(W-LABEL_W);}
function tAt(x){return view.v0+(x-LABEL_W)/(W-LABEL_W)*(view.v1-view.v0);}
function laneY(i){return AXIS_H+i*LANE_H;}
function size(c,h){const r=window.devicePixelRatio||1;W=c.clientWidth||800;c.width=W*r;c.height=h*r;
 c.style.height=h+'px';const g=c.getContext('2d');g.setTransform(r,0,0,r,0,0);return g;}
function axis(g){g.fillStyle='#555';g.font='11px system-ui';const span=view.v1-view.v0;
 const raw=span*TICK_PX/(W-LABEL_W),p=Math.pow(10,Math.floor(Math.log10(raw)));
 const step=[1,2,5,10].map(m=>m*p).find(s=>s>=raw)||raw;
 for(let t=Math.ceil(view.v0/step)*step;t<=view.v1;t+=step){const x=px(t);
  g.fillRect(x,AXIS_H-5,1,5);g.fillText((t/1e6).toFixed(Math.max(0,6-Math.floor(Math.log10(step)))),x+2,12);}}
function faults(g){for(const b of D.faults.bands){if(b.to<view.v0||b.from>view.v1)continue;
 const x0=Math.max(LABEL_W,px(b.from)),x1=Math.min(W,px(b.to)+1);g.fillStyle=FAM[b.fam]||FAM.net;
 if(!b.lanes.length)g.fillRect(x0,AXIS_H,x1-x0,N*LANE_H);
 for(const l of b.lanes)g.fillRect(x0,laneY(l),x1-x0,LANE_H-4);}
 g.fillStyle='#2f5bd8';for(const m of D.faults.marks){if(m.t<view.v0||m.t>view.v1)continue;
  g.fillRect(px(m.t),AXIS_H,1,N*LANE_H);drawn.push({k:'action',x:px(m.t),y:AXIS_H+4,text:m.text,t:m.t});}}
function lane(g,i){const L=D.lanes[i],y=laneY(i);g.fillStyle='#222';g.font='bold 12px system-ui';
 g.fillText('n'+D.nodes[i],6,y+BAND_H-3);g.fillStyle='#eee';g.fillRect(LABEL_W,y+PLOT_TOP+PLOT_H+4,W,1);
 g.font='10px system-ui';for(let k=0;k<L.r.length;k+=4){const s=L.r[k],e=L.r[k+1];
  if(e<view.v0||s>view.v1)continue;const x0=Math.max(LABEL_W,px(s)),x1=Math.min(W,px(e));
  g.fillStyle=ROLE[L.r[k+2]].c;g.fillRect(x0,y,Math.max(1,x1-x0),BAND_H);
  if(x1-x0>26){g.fillStyle='#222';g.fillText('t'+L.r[k+3]+(L.r[k+2]===3?' leader':''),x0+3,y+BAND_H-4);}}
 const G=LG[i],sc=PLOT_H/G.max,base=y+PLOT_TOP+PLOT_H;
 for(const [col,vals] of [['#999',G.l],['#2a9d46',G.c]]){g.strokeStyle=col;g.beginPath();let py=null;
  for(let k=0;k<G.t.length;k++){const t=G.t[k];if(t>view.v1)break;const x=Math.max(LABEL_W,px(t)),v=base-vals[k]*sc;
   if(py===null)g.moveTo(x,v);else if(v!==py){g.lineTo(x,py);g.lineTo(x,v);}py=v;}
  if(py!==null)g.lineTo(W,py);g.stroke();}
 g.fillStyle='#333';for(let k=0;k<L.e.t.length;k++){const t=L.e.t[k];if(t<view.v0||t>view.v1)continue;
  const x=px(t);g.fillRect(x-1,y+BAND_H,2,5);drawn.push({k:'mark',x:x,y:y+BAND_H+2,text:'n'+D.nodes[i]+' '+L.e.x[k],t:t});}}
const first=t=>RaftlabLog.firstAt(ms,t);
function arrows(g){let nA=0,nIn=0,nStub=0;const list=[];
 for(let i=first(view.v0-maxLat);i<NM&&ms[i]<=view.v1;i++){if(!on[M.y[i]])continue;
  const a=M.a[i],b=M.b[i];if(a<0&&b<0)continue;const s=ms[i],r=mr[i],d=M.d[i];
  if(d>=0&&r<view.v0)continue;list.push(i);}
 const heads=list.length<HEADS_MAX;
 for(const i of list){const a=M.a[i],b=M.b[i],d=M.d[i],s=ms[i];g.strokeStyle=typeColor(M.y[i]);
  const ya=laneY(a<0?b:a)+BAND_H/2,yb=laneY(b<0?a:b)+BAND_H/2;g.beginPath();
  if(d>=0&&a>=0&&b>=0){const x0=px(s),x1=px(mr[i]);g.moveTo(x0,ya);g.lineTo(x1,yb);g.stroke();nA++;
   if(s>=view.v0&&s<=view.v1)nIn++;
   if(heads){const an=Math.atan2(yb-ya,x1-x0);g.beginPath();g.moveTo(x1,yb);
    g.lineTo(x1-6*Math.cos(an-0.4),yb-6*Math.sin(an-0.4));g.lineTo(x1-6*Math.cos(an+0.4),yb-6*Math.sin(an+0.4));
    g.fillStyle=g.strokeStyle;g.fill();}
   drawn.push({k:'msg',i:i,x0:x0,y0:ya,x1:x1,y1:yb});}
  else{const x0=px(s),ym=d===-2?yb-(yb-ya)/3:ya+(yb-ya)/3,yy=d===-2?yb:ya;
   g.moveTo(x0,yy);g.lineTo(x0+8,ym);g.stroke();g.beginPath();g.moveTo(x0+5,ym-3);g.lineTo(x0+11,ym+3);
   g.moveTo(x0+11,ym-3);g.lineTo(x0+5,ym+3);g.stroke();nStub++;
   drawn.push({k:'msg',i:i,x0:x0,y0:yy,x1:x0+8,y1:ym});}}
 S.arrowsDrawn=nA;S.arrowsSentInView=nIn;S.stubsDrawn=nStub;}
function ops(g){const O=D.ops;for(let k=0;k<O.s.length;k++){if(O.e[k]<view.v0||O.s[k]>view.v1)continue;
 const x0=Math.max(LABEL_W,px(O.s[k])),x1=Math.min(W,px(O.e[k])),y=opsTop+procRow.get(O.p[k])*OP_ROW_H;
 g.fillStyle=['#3c9a54','#9a9a9a','#e08a00'][O.o[k]];g.fillRect(x0,y,Math.max(1,x1-x0),OP_ROW_H-1);}}
function draw(){drawn=[];const g=size(main,H);g.clearRect(0,0,W,H);axis(g);faults(g);
 for(let i=0;i<N;i++)lane(g,i);arrows(g);ops(g);
 if(sliderT>=view.v0&&sliderT<=view.v1){g.fillStyle='#d00';g.fillRect(px(sliderT),AXIS_H,2,opsTop-AXIS_H);}
 $('range').textContent=fmt(view.v0)+' .. '+fmt(view.v1);S.from=view.v0;S.to=view.v1;}
const logAt=(i,t)=>RaftlabLog.logAt(D.lanes[i].g,LG[i].t,t);
let logBoxes=[];
function drawLogs(){const h=N*LOG_ROW_H+6,g=size(logs,h);g.clearRect(0,0,W,h);logBoxes=[];const txt=[];
 for(let i=0;i<N;i++){const L=logAt(i,sliderT),y=3+i*LOG_ROW_H;g.fillStyle='#222';g.font='bold 12px system-ui';
  g.fillText('n'+D.nodes[i],6,y+18);
  for(const b of RaftlabLog.drawRow(g,L,LABEL_W,y,LOG_BOX_W,LOG_ROW_H,LOG_ENTRIES_MAX).boxes){b.i=i;logBoxes.push(b);}
  txt.push('n'+D.nodes[i]+' last='+L.last+' commit='+L.commit+' snap='+L.snap);}
 S.logText=txt.join('; ');S.slider=sliderT;$('sliderTime').textContent=fmt(sliderT);}
function setView(a,b){const span=Math.max(MIN_SPAN_US,Math.min(T1,b-a));a=Math.max(0,Math.min(a,T1-span));
 view.v0=a;view.v1=a+span;draw();}
function zoom(f,c){const cc=c===undefined?(view.v0+view.v1)/2:c;setView(cc-(cc-view.v0)*f,cc+(view.v1-cc)*f);}
function setSlider(t){sliderT=Math.max(0,Math.min(T1,t));slider.value=String(Math.round(sliderT));drawLogs();draw();}
function dist(p,q,x,y){const dx=q.x-p.x,dy=q.y-p.y,l=dx*dx+dy*dy;let u=l?((x-p.x)*dx+(y-p.y)*dy)/l:0;
 u=Math.max(0,Math.min(1,u));return Math.hypot(p.x+u*dx-x,p.y+u*dy-y);}
function msgText(i){const s=ms[i],d=M.d[i],a=M.a[i],b=M.b[i];
 return M.types[M.y[i]]+' n'+(a>=0?D.nodes[a]:'?')+' -> n'+(b>=0?D.nodes[b]:'?')+'  '+M.x[i]+'\n'+
  (d===-2?'received at '+fmt(s)+' (its send is not in the trace)':'sent '+fmt(s)+
  (d>=0?', received '+fmt(s+d)+' ('+(d/1000).toFixed(3)+' ms)':', never received'));}
function clickMain(x,y){let best=null,bd=CLICK_PX;for(const o of drawn){
 const dd=o.k==='msg'?dist({x:o.x0,y:o.y0},{x:o.x1,y:o.y1},x,y):Math.hypot(o.x-x,o.y-y);
 if(dd<=bd){bd=dd;best=o;}}
 if(best)$('detail').textContent=best.k==='msg'?msgText(best.i):fmt(best.t)+'  '+best.text;}
let drag=null;
main.addEventListener('mousedown',e=>{drag={x:e.offsetX,v0:view.v0,v1:view.v1,moved:false};});
window.addEventListener('mousemove',e=>{if(!drag)return;const dx=e.clientX-main.getBoundingClientRect().left-drag.x;
 if(Math.abs(dx)>2)drag.moved=true;if(!drag.moved)return;const dt=dx/(W-LABEL_W)*(drag.v1-drag.v0);
 setView(drag.v0-dt,drag.v1-dt);});
window.addEventListener('mouseup',e=>{if(drag&&!drag.moved)clickMain(drag.x,e.clientY-main.getBoundingClientRect().top);drag=null;});
main.addEventListener('wheel',e=>{e.preventDefault();zoom(e.deltaY>0?ZOOM_STEP:1/ZOOM_STEP,tAt(e.offsetX));},{passive:false});
logs.addEventListener('click',e=>{for(const b of logBoxes){if(e.offsetX>=b.x&&e.offsetX<b.x+LOG_BOX_W&&e.offsetY>=b.y&&e.offsetY<b.y+LOG_BOX_W){
 $('detail').textContent='n'+D.nodes[b.i]+' entry '+b.idx+' term '+b.term+(b.committed?' (committed)':' (not committed)')+' at '+fmt(sliderT);return;}}});
$('zoom-in').onclick=()=>zoom(1/ZOOM_STEP);$('zoom-out').onclick=()=>zoom(ZOOM_STEP);$('zoom-all').onclick=()=>setView(0,T1);
slider.max=String(T1);slider.value=String(T1);slider.addEventListener('input',()=>setSlider(Number(slider.value)));
const counts=M.types.map(()=>0);for(let i=0;i<NM;i++)counts[M.y[i]]++;
M.types.forEach((name,k)=>{const l=document.createElement('label');const c=document.createElement('input');
 c.type='checkbox';c.checked=true;c.dataset.type=name;c.onchange=()=>{on[k]=c.checked;draw();};
 const sw=document.createElement('span');sw.className='sw';sw.style.background=typeColor(k);
 l.append(c,sw,name+' ('+counts[k]+')');$('types').append(l);});
for(const r of ROLE)$('legend').insertAdjacentHTML('beforeend','<span><span class="sw" style="background:'+r.c+'"></span>'+r.n+'</span>');
for(const [f,c] of [['net','network fault'],['kill','killed'],['pause','paused']])
 $('legend').insertAdjacentHTML('beforeend','<span><span class="sw" style="background:'+FAM[f]+'"></span>'+c+'</span>');
$('legend').insertAdjacentHTML('beforeend','<span>commit (green) and last index (grey) under each lane</span>');
S.setView=setView;S.setSlider=setSlider;
S.arrowPoint=k=>{const a=drawn.filter(o=>o.k==='msg'&&Math.abs(o.y1-o.y0)>=LANE_H)[k];
 return a?{x:(a.x0+a.x1)/2,y:(a.y0+a.y1)/2}:null;};
S.setType=(name,v)=>{const k=M.types.indexOf(name);if(k>=0){on[k]=v;draw();}};
S.leadersAt=t=>{const out=[];D.lanes.forEach((L,i)=>{for(let k=0;k<L.r.length;k+=4)
 if(L.r[k+2]===3&&L.r[k]<=t&&t<L.r[k+1])out.push(D.nodes[i]);});return out;};
S.leaderBands=()=>{const out=[];D.lanes.forEach((L,i)=>{for(let k=0;k<L.r.length;k+=4)
 if(L.r[k+2]===3)out.push({node:D.nodes[i],from:L.r[k],to:L.r[k+1],term:L.r[k+3]});});
 return out.sort((a,b)=>a.from-b.from);};
window.addEventListener('resize',()=>{draw();drawLogs();});
drawLogs();draw();S.ready=true;
})();
)JS";

/// The parts' characters one after the other, at compile time (some compilers limit one
/// literal to 64 KiB, and the pages share kLogModelJs).
template <size_t... N>
constexpr std::array<char, (N + ...) - sizeof...(N) + 1> join_text(const char (&... parts)[N]) {
  std::array<char, (N + ...) - sizeof...(N) + 1> out{};
  size_t at = 0;
  ((std::copy_n(parts, N - 1, out.begin() + static_cast<std::ptrdiff_t>(at)), at += N - 1), ...);
  return out;
}

inline constexpr auto kPageJsText = join_text(kLogModelJs, kTimelineJs);
/// The timeline page's whole script.
inline constexpr const char* kPageJs = kPageJsText.data();

}  // namespace raftlab::timeline
