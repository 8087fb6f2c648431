// The drawing code of the `check --html` page, kept apart from the C++ that writes its data
// (html.cc) so that another page (the cluster timeline to come) can reuse it.
//
// The page's C++ side emits one JSON document in <script id="raftlab-data"> (format in
// html.h); this script draws it on two canvases: an overview of the whole run (one density row
// per key, every fault band, the violation marked) and a detail view of the chosen time range
// (one row per process of each key, one bar per operation). Only operations that overlap the
// visible range are drawn, so 20,000+ operations stay fluid. Zoom: wheel or buttons; pan: drag
// the detail view; zoom to a range: drag across the overview; click a fault or the violation
// (overview or buttons) to zoom to it. `window.raftlabView` exposes what was drawn (counts,
// range, click points) for the browser test (tests/browser/).
#pragma once

namespace raftlab::check {

inline constexpr const char* kTimelineViewCss = R"CSS(
body{font:13px/1.45 system-ui,sans-serif;margin:14px 18px;color:#222;background:#fff}
h1{font-size:19px;margin:0 0 4px} h2{font-size:15px;margin:14px 0 4px}
.v-linearizable{color:#17803d} .v-not_linearizable{color:#c0262d} .v-unknown{color:#b86e00}
p.sum{margin:2px 0 8px;color:#444}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:260px}
table.win{border-collapse:collapse;margin:6px 0} table.win td,table.win th{border:1px solid #ccc;
padding:2px 6px;font-family:ui-monospace,monospace;font-size:12px;text-align:left}
tr.stuck td{background:#fde2e2;font-weight:bold} tr.before td{color:#666}
#controls{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:8px 0 4px}
#controls button,#faults button{font:12px system-ui,sans-serif;padding:2px 8px;cursor:pointer;
border:1px solid #aaa;border-radius:4px;background:#f8f8f8}
#controls button:hover,#faults button:hover{background:#eaeaea}
#go-violation{border-color:#d00!important;color:#b00}
#range{font-family:ui-monospace,monospace;font-size:12px;color:#444;margin-left:8px}
#faults{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0}
#faults .sw,#legend .sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;
margin-right:4px;border:1px solid #888}
#legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:6px 0;font-size:12px;color:#333}
.hint{color:#666;font-size:12px}
canvas{display:block} #overview{width:100%;border:1px solid #ccc;cursor:crosshair}
#mainBox{overflow-y:auto;border:1px solid #ccc;position:relative}
#main{position:sticky;top:0;width:100%;cursor:grab}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:3px 7px;
border-radius:3px;font:12px ui-monospace,monospace;display:none;white-space:pre;z-index:9}
)CSS";

inline constexpr const char* kTimelineViewJs = R"JS(
(function(){
'use strict';
const D=JSON.parse(document.getElementById('raftlab-data').textContent);
const FAMILY={net:{fill:'rgba(60,110,255,0.15)',line:'#2f5bd8',name:'network fault (partition, loss, delay)'},
 pause:{fill:'rgba(150,70,255,0.15)',line:'#7a36d6',name:'paused node'},
 kill:{fill:'rgba(220,50,140,0.15)',line:'#b3206f',name:'killed node (until restarted)'}};
const OUTCOME=[{fill:'#bfe8c8',line:'#3c9a54',name:'ok'},{fill:'#e6e6e6',line:'#9a9a9a',name:'fail (did not happen)'},
 {fill:'#ffe2b3',line:'#e08a00',name:'info / pending (may take effect any time later)'}];
const RED='#d00000',LABEL_W=140,AXIS_H=20,STRIP_H=18,HEAD_H=18,ROW_H=15,BAR_H=11;
const MIN_SPAN_NS=1000,ZOOM_STEP=2,CLICK_PX=4,TICK_PX=110,OV_PLOT_H=150;
const ops=D.ops,T1=Math.max(D.t1,1),keys=D.keys,V=D.violation;
const $=id=>document.getElementById(id);
const ov=$('overview'),main=$('main'),box=$('mainBox'),spacer=$('spacer'),tip=$('tip');
const view={v0:0,v1:T1};
const state=window.raftlabView={full:T1,keys:keys.length,bands:D.bands.length,
 opsTotal:ops.k.length,violation:V?{key:keys[V.key].name,from:V.from,to:V.to,ops:V.ops.slice()}:null};
// Rows: per key, per process row, the op indices in call order.
const rows=keys.map(k=>k.procs.map(()=>[]));
for(let i=0;i<ops.k.length;i++)rows[ops.k[i]][ops.r[i]].push(i);
const groupY=[];let groupsH=0;
for(const r of rows){groupY.push(groupsH);groupsH+=HEAD_H+r.length*ROW_H+4;}
// The cluster's lanes (html.h "lanes"): one row per node under the fault strip, sticky like it.
const LANES=D.lanes||[],LANE_H=16,LANES_H=LANES.length?LANES.length*LANE_H+4:0;
const OV_LANE_H=6,OV_LANES_H=LANES.length?LANES.length*OV_LANE_H+3:0;
const ROLE={leader:{fill:'#2a9d3a',text:'#fff',name:'leader'},candidate:{fill:'#f08c00',text:'#222',name:'candidate'},
 precandidate:{fill:'#f7d35c',text:'#222',name:'precandidate (pre-vote)'},follower:{fill:'#cfd8e3',text:'#222',name:'follower'},
 learner:{fill:'#dccaf2',text:'#222',name:'learner (does not vote)'},dead:{fill:'#4a4a4a',text:'#fff',name:'dead (killed or stopped)'}};
const OTHER_ROLE={fill:'#bbbbbb',text:'#222',name:'?'};
state.lanes=LANES.length;state.roleColors=Object.fromEntries(Object.entries(ROLE).map(([k,r])=>[k,r.fill]));
const TOP=AXIS_H+STRIP_H+LANES_H;
function fmtDur(ns){const a=Math.abs(ns);
 if(a<1e3)return Math.round(ns)+'ns';if(a<1e6)return (ns/1e3).toFixed(1)+'us';
 if(a<1e9)return (ns/1e6).toFixed(2)+'ms';return (ns/1e9).toFixed(3)+'s';}
function setupCanvas(c,h){const dpr=window.devicePixelRatio||1,w=c.clientWidth;
 c.style.height=h+'px';c.width=Math.round(w*dpr);c.height=Math.round(h*dpr);
 const x=c.getContext('2d');x.setTransform(dpr,0,0,dpr,0,0);x.font='11px ui-monospace,monospace';
 x.textBaseline='middle';return {ctx:x,w:w,h:h};}
function tickStep(span,px){const target=span/Math.max(1,px/TICK_PX);
 const p=Math.pow(10,Math.floor(Math.log10(Math.max(target,1))));
 for(const m of [1,2,5])if(p*m>=target)return p*m;return p*10;}
function drawTicks(g,x0,x1,t0,t1,y,h){const step=tickStep(t1-t0,x1-x0);
 g.fillStyle='#777';g.strokeStyle='#eee';g.lineWidth=1;
 for(let t=Math.ceil(t0/step)*step;t<=t1;t+=step){const x=x0+(t-t0)*(x1-x0)/(t1-t0);
  g.beginPath();g.moveTo(x+.5,y);g.lineTo(x+.5,y+h);g.stroke();g.fillText('+'+fmtDur(t),x+3,y+7);}}
function setView(a,b){let span=Math.min(T1,Math.max(MIN_SPAN_NS,b-a));
 a=Math.max(0,Math.min(a,T1-span));view.v0=a;view.v1=a+span;draw();}
function zoom(f,at){const c=at===undefined?(view.v0+view.v1)/2:at;
 setView(c-(c-view.v0)*f,c+(view.v1-c)*f);}
function around(a,b){const pad=Math.max((b-a)*0.6,MIN_SPAN_NS);setView(a-pad,b+pad);}
function jumpFault(i){const b=D.bands[i];around(b.from,b.to);}
function jumpViolation(){if(!V)return;around(V.from,V.to);box.scrollTop=groupY[V.key];}
// ---- overview: the whole run, one density row per key ----
const ovRowH=Math.max(2,Math.min(12,Math.floor(OV_PLOT_H/Math.max(1,keys.length))));
let ovHits=[],brush=null;
function ovX(t,w){return LABEL_W+t*(w-LABEL_W)/T1;}
function drawOverviewLanes(g){LANES.forEach((lane,n)=>{const y=AXIS_H+n*OV_LANE_H,w=ov.clientWidth;
 for(const b of lane.bands){const x0=ovX(b.from,w);g.fillStyle=(ROLE[b.role]||OTHER_ROLE).fill;
  g.fillRect(x0,y+1,Math.max(1,ovX(b.to,w)-x0),OV_LANE_H-1);}});}
function drawOverview(){const H=AXIS_H+OV_LANES_H+keys.length*ovRowH+6,{ctx:g,w}=setupCanvas(ov,H);
 g.clearRect(0,0,w,H);drawTicks(g,LABEL_W,w,0,T1,0,H);ovHits=[];let bands=0;
 D.bands.forEach((b,i)=>{const f=FAMILY[b.family],x0=ovX(b.from,w),x1=Math.max(x0+2,ovX(b.to,w));
  g.fillStyle=f.fill;g.fillRect(x0,AXIS_H,x1-x0,H-AXIS_H);g.fillStyle=f.line;g.fillRect(x0,AXIS_H,x1-x0,3);
  ovHits.push({kind:'fault',i:i,x0:x0,x1:x1});bands++;});
 drawOverviewLanes(g);
 const plotW=Math.max(1,Math.floor(w-LABEL_W)),bins=new Float32Array(plotW);let rowsDrawn=0;
 for(let k=0;k<keys.length;k++){bins.fill(0);let max=0;const y=AXIS_H+OV_LANES_H+k*ovRowH;
  for(const r of rows[k])for(const i of r){const b=Math.min(plotW-1,Math.floor(ops.s[i]*plotW/T1));
   bins[b]++;if(bins[b]>max)max=bins[b];}
  for(let b=0;b<plotW;b++)if(bins[b]>0){g.fillStyle='rgba(40,120,60,'+(0.25+0.75*bins[b]/max)+')';
   g.fillRect(LABEL_W+b,y+1,1,Math.max(1,ovRowH-1));}
  if(ovRowH>=9){g.fillStyle=V&&V.key===k?RED:'#333';g.fillText(keys[k].name,4,y+ovRowH/2,LABEL_W-8);}
  rowsDrawn++;}
 if(V){const y=AXIS_H+OV_LANES_H+V.key*ovRowH,x0=ovX(V.from,w),x1=Math.max(x0+3,ovX(V.to,w)),cx=(x0+x1)/2;
  g.strokeStyle=RED;g.lineWidth=2;g.strokeRect(LABEL_W,y,w-LABEL_W-1,ovRowH);
  g.fillStyle=RED;g.fillRect(x0,AXIS_H,Math.max(2,x1-x0),H-AXIS_H);g.beginPath();
  g.moveTo(cx-7,AXIS_H-1);g.lineTo(cx+7,AXIS_H-1);g.lineTo(cx,AXIS_H+10);g.closePath();g.fill();
  ovHits.unshift({kind:'violation',x0:cx-9,x1:cx+9});state.violation.marked=true;
  state.violation.overviewX=cx;state.violation.overviewY=AXIS_H+4;}
 const vx0=ovX(view.v0,w),vx1=ovX(view.v1,w);g.fillStyle='rgba(0,0,0,0.10)';
 g.fillRect(LABEL_W,0,vx0-LABEL_W,H);g.fillRect(vx1,0,w-vx1,H);
 g.strokeStyle='#333';g.lineWidth=1;g.strokeRect(vx0+.5,.5,Math.max(1,vx1-vx0-1),H-1);
 if(brush){g.fillStyle='rgba(30,90,200,0.2)';g.fillRect(Math.min(brush.a,brush.b),0,Math.abs(brush.b-brush.a),H);}
 state.overviewKeyRows=rowsDrawn;state.overviewBands=bands;}
function ovClick(x){for(const h of ovHits)if(x>=h.x0-2&&x<=h.x1+2){
  if(h.kind==='violation')jumpViolation();else jumpFault(h.i);return;}
 const t=(x-LABEL_W)*T1/(ov.clientWidth-LABEL_W),half=(view.v1-view.v0)/2;setView(t-half,t+half);}
ov.addEventListener('mousedown',e=>{brush={a:e.offsetX,b:e.offsetX};});
ov.addEventListener('mousemove',e=>{if(brush){brush.b=e.offsetX;drawOverview();}});
window.addEventListener('mouseup',()=>{if(!brush)return;const b=brush;brush=null;
 if(Math.abs(b.b-b.a)<CLICK_PX){ovClick(b.a);return;}
 const w=ov.clientWidth,t=x=>Math.max(0,(x-LABEL_W)*T1/(w-LABEL_W));
 setView(t(Math.min(b.a,b.b)),t(Math.max(b.a,b.b)));});
)JS"
                                               R"JS(
// ---- detail view: the chosen range, one row per process of each key ----
let mainHits=[],drag=null;
function barLabel(g,i,x,w,y){if(w<28)return;const n=Math.floor((w-6)/6.6);let s=ops.l[i];
 if(s.length>n)s=s.slice(0,Math.max(1,n-1))+'\u2026';g.fillStyle='#222';g.fillText(s,x+3,y+BAR_H/2+.5);}
function drawBar(g,i,X,y){const o=OUTCOME[ops.o[i]],m=ops.m[i],x0=X(ops.s[i]),x1=X(ops.e[i]);
 const x=Math.max(LABEL_W-2,x0),w=Math.max(2,Math.min(x1,main.clientWidth+2)-x);
 g.fillStyle=m===3?'#ff9d9d':o.fill;g.fillRect(x,y,w,BAR_H);
 g.setLineDash(ops.o[i]===2?[4,3]:[]);g.lineWidth=m>=2?2.5:(m===1?2:1);
 g.strokeStyle=m>=2?RED:(m===1?'#444':o.line);g.strokeRect(x+.5,y+.5,w-1,BAR_H-1);g.setLineDash([]);
 barLabel(g,i,x,w,y);}
function drawGroups(g,w,h,X){let drawn=0;const sy=box.scrollTop;
 for(let k=0;k<keys.length;k++){const gy=TOP+groupY[k]-sy,gh=HEAD_H+rows[k].length*ROW_H+4;
  if(gy+gh<TOP||gy>h)continue;g.strokeStyle='#bbb';g.beginPath();g.moveTo(0,gy+.5);g.lineTo(w,gy+.5);g.stroke();
  rows[k].forEach((r,ri)=>{const y=gy+HEAD_H+ri*ROW_H+2;if(y+ROW_H<TOP||y>h)return;
   for(const i of r){if(ops.s[i]>view.v1)break;if(ops.e[i]<view.v0)continue;drawBar(g,i,X,y);
    mainHits.push({i:i,y0:y,y1:y+BAR_H});drawn++;}});}
 return drawn;}
function drawLabels(g,h){const sy=box.scrollTop;g.fillStyle='#fff';g.fillRect(0,TOP,LABEL_W-4,h-TOP);
 for(let k=0;k<keys.length;k++){const gy=TOP+groupY[k]-sy;if(gy+HEAD_H<TOP||gy>h)continue;
  g.font='bold 11px system-ui,sans-serif';g.fillStyle=V&&V.key===k?RED:'#000';
  g.fillText('key '+keys[k].name,4,gy+HEAD_H/2+1,LABEL_W-10);g.font='11px ui-monospace,monospace';
  g.fillStyle='#555';g.fillText(keys[k].ops+' ops, '+keys[k].verdict.replace('_',' '),LABEL_W+4,gy+HEAD_H/2+1);
  keys[k].procs.forEach((p,ri)=>{const y=gy+HEAD_H+ri*ROW_H+2+BAR_H/2;
   if(y>TOP&&y<h){g.fillStyle='#444';g.fillText(p,14,y);}});}}
function drawBandsBg(g,w,h,X){let shown=0;
 D.bands.forEach(b=>{if(b.to<view.v0||b.from>view.v1)return;const f=FAMILY[b.family];
  const x0=Math.max(LABEL_W,X(b.from)),x1=Math.min(w,Math.max(x0+2,X(b.to)));
  g.fillStyle=f.fill;g.fillRect(x0,TOP,x1-x0,h-TOP);shown++;});
 for(const m of D.marks){if(m.t<view.v0||m.t>view.v1)continue;const x=X(m.t);
  g.strokeStyle='#888';g.setLineDash([2,3]);g.beginPath();g.moveTo(x+.5,TOP);g.lineTo(x+.5,h);g.stroke();
  g.setLineDash([]);mainHits.push({mark:m.text,t:m.t,x0:x-3,x1:x+3,y0:TOP,y1:h});}
 return shown;}
function drawStrip(g,w,X){g.fillStyle='#fff';g.fillRect(0,0,w,TOP);
 drawTicks(g,LABEL_W,w,view.v0,view.v1,0,AXIS_H);
 g.fillStyle='#333';g.fillText('faults',4,AXIS_H+STRIP_H/2);
 D.bands.forEach((b,i)=>{if(b.to<view.v0||b.from>view.v1)return;const f=FAMILY[b.family];
  const x0=Math.max(LABEL_W,X(b.from)),x1=Math.min(w,Math.max(x0+2,X(b.to)));
  g.fillStyle=f.line;g.fillRect(x0,AXIS_H+2,x1-x0,STRIP_H-4);
  if(x1-x0>30){g.fillStyle='#fff';g.fillText(b.text,x0+4,AXIS_H+STRIP_H/2,x1-x0-8);}
  mainHits.push({fault:i,x0:x0,x1:x1,y0:AXIS_H,y1:TOP});});
 for(const m of D.marks){if(m.t<view.v0||m.t>view.v1)continue;const x=X(m.t);
  g.fillStyle='#555';g.fillRect(x,AXIS_H+1,1,STRIP_H-2);}}
function laneY(n){return AXIS_H+STRIP_H+2+n*LANE_H;}
function drawLanes(g,w,X){const drawn=[];
 LANES.forEach((lane,n)=>{const y=laneY(n);g.fillStyle='#333';g.fillText('node '+lane.node,4,y+LANE_H/2-1);
  for(const b of lane.bands){if(b.to<view.v0||b.from>view.v1)continue;const r=ROLE[b.role]||OTHER_ROLE;
   const x0=Math.max(LABEL_W,X(b.from)),x1=Math.min(w,Math.max(x0+1,X(b.to)));
   g.fillStyle=r.fill;g.fillRect(x0,y,x1-x0,LANE_H-2);
   if(x1-x0>24){g.fillStyle=r.text;g.fillText(b.role==='dead'?'dead':'t'+b.term,x0+3,y+LANE_H/2-1,x1-x0-6);}
   mainHits.push({lane:lane.node,band:b,x0:x0,x1:x1,y0:y,y1:y+LANE_H-2});
   drawn.push({node:lane.node,role:b.role,term:b.term,from:b.from,to:b.to});}});
 state.lanesDrawn=LANES.length;state.laneBands=drawn;}
function drawMain(){const contentH=TOP+groupsH,boxH=Math.max(160,Math.min(contentH,Math.round(window.innerHeight*0.72)));
 box.style.height=boxH+'px';spacer.style.height=Math.max(0,contentH-boxH)+'px';
 const {ctx:g,w,h}=setupCanvas(main,boxH),span=view.v1-view.v0;
 const X=t=>LABEL_W+(t-view.v0)*(w-LABEL_W)/span;mainHits=[];g.clearRect(0,0,w,h);
 const bands=drawBandsBg(g,w,h,X);g.save();g.beginPath();g.rect(0,TOP,w,h-TOP);g.clip();
 state.opsDrawn=drawGroups(g,w,h,X);drawLabels(g,h);g.restore();drawStrip(g,w,X);drawLanes(g,w,X);
 state.mainBands=bands;}
function draw(){drawOverview();drawMain();state.from=view.v0;state.to=view.v1;
 $('range').textContent='showing +'+fmtDur(view.v0)+' .. +'+fmtDur(view.v1)+' of '+fmtDur(T1)+
  ' ('+state.opsDrawn+' operations drawn)';}
function hitAt(x,y){for(let j=mainHits.length-1;j>=0;j--){const h=mainHits[j];
  if(y<h.y0||y>h.y1)continue;if(h.i!==undefined){const X=t=>LABEL_W+(t-view.v0)*(main.clientWidth-LABEL_W)/(view.v1-view.v0);
   if(x>=Math.max(LABEL_W,X(ops.s[h.i]))-1&&x<=X(ops.e[h.i])+1)return h;}else if(x>=h.x0&&x<=h.x1)return h;}
 return null;}
function hitText(h){if(h.i!==undefined)return ops.tip[h.i];
 if(h.lane!==undefined){const b=h.band;return 'node '+h.lane+': '+b.role+(b.role==='dead'?'':', term '+b.term)+
  '\n+'+fmtDur(b.from)+' .. +'+fmtDur(b.to);}if(h.fault!==undefined){const b=D.bands[h.fault];
  return b.text+'\n+'+fmtDur(b.from)+' .. +'+fmtDur(b.to)+'  (click to zoom)';}return h.mark+'  at +'+fmtDur(h.t);}
main.addEventListener('wheel',e=>{e.preventDefault();const w=main.clientWidth;
 const at=view.v0+Math.max(0,e.offsetX-LABEL_W)*(view.v1-view.v0)/(w-LABEL_W);
 if(e.shiftKey){box.scrollTop+=e.deltaY;return;}zoom(e.deltaY<0?1/1.25:1.25,at);},{passive:false});
main.addEventListener('mousedown',e=>{drag={x:e.offsetX,v0:view.v0,v1:view.v1,moved:false};});
main.addEventListener('mousemove',e=>{if(drag){const dx=e.offsetX-drag.x;if(Math.abs(dx)>=CLICK_PX)drag.moved=true;
  if(drag.moved){const dt=-dx*(drag.v1-drag.v0)/(main.clientWidth-LABEL_W);setView(drag.v0+dt,drag.v1+dt);}
  tip.style.display='none';return;}
 const h=hitAt(e.offsetX,e.offsetY);if(!h){tip.style.display='none';return;}
 tip.textContent=hitText(h);tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+14)+'px';});
main.addEventListener('mouseleave',()=>{tip.style.display='none';});
window.addEventListener('mouseup',e=>{if(!drag)return;const d=drag;drag=null;if(d.moved)return;
 const r=main.getBoundingClientRect(),h=hitAt(e.clientX-r.left,e.clientY-r.top);
 if(h&&h.fault!==undefined)jumpFault(h.fault);});
box.addEventListener('scroll',drawMain);
window.addEventListener('resize',draw);
)JS"
                                               R"JS(
// ---- controls, fault list, legend ----
$('zoom-in').onclick=()=>zoom(1/ZOOM_STEP);$('zoom-out').onclick=()=>zoom(ZOOM_STEP);
$('zoom-all').onclick=()=>setView(0,T1);
if(V)$('go-violation').onclick=jumpViolation;else $('go-violation').style.display='none';
const fl=$('faults');
if(!D.bands.length)fl.textContent='No fault in this run.';
D.bands.forEach((b,i)=>{const btn=document.createElement('button'),sw=document.createElement('span');
 sw.className='sw';sw.style.background=FAMILY[b.family].line;btn.appendChild(sw);
 btn.appendChild(document.createTextNode(b.text+' @ +'+fmtDur(b.from)+' .. +'+fmtDur(b.to)));
 btn.className='fault';btn.title='zoom to this fault';btn.onclick=()=>jumpFault(i);fl.appendChild(btn);});
const lg=$('legend');
function legendItem(fill,line,text,dash){const s=document.createElement('span'),sw=document.createElement('span');
 sw.className='sw';sw.style.background=fill;sw.style.borderColor=line;if(dash)sw.style.borderStyle='dashed';
 s.appendChild(sw);s.appendChild(document.createTextNode(text));lg.appendChild(s);}
OUTCOME.forEach((o,i)=>legendItem(o.fill,o.line,'operation '+o.name,i===2));
legendItem('#fff',RED,'in the violation window (red outline)');legendItem('#ff9d9d',RED,'the operation that cannot take effect');
legendItem('#fff','#444','just before the window, or wrote the value it needed');
for(const f of Object.values(FAMILY))legendItem(f.fill,f.line,'fault band: '+f.name);
if(LANES.length)for(const r of Object.values(ROLE))legendItem(r.fill,'#666','node lane: '+r.name);
legendItem('#fff','#888','other nemesis event (dashed line)',true);
state.zoomIn=()=>zoom(1/ZOOM_STEP);state.zoomOut=()=>zoom(ZOOM_STEP);
state.point=function(which){const r=ov.getBoundingClientRect(),w=ov.clientWidth;
 if(which==='violation')return V?{x:r.left+state.violation.overviewX,y:r.top+state.violation.overviewY}:null;
 const b=D.bands[which];return {x:r.left+(ovX(b.from,w)+Math.max(ovX(b.from,w)+2,ovX(b.to,w)))/2,y:r.top+AXIS_H+4};};
// The centre of node `node`'s lane at time t in the detail view, in canvas pixels (CSS).
state.lanePoint=function(node,t){const n=LANES.findIndex(l=>l.node===node);if(n<0)return null;
 return {x:LABEL_W+(t-view.v0)*(main.clientWidth-LABEL_W)/(view.v1-view.v0),y:laneY(n)+(LANE_H-2)/2};};
draw();state.ready=true;
})();
)JS";

}  // namespace raftlab::check
