// The `raftlab ui` page's script (cmd/ui/page.h puts it after kLogModelJs). Drawn from:
//   - `state` events (the /api/state document, 20 a second): the ring of nodes, each
//     follower's election timer (run down locally between updates), the faults on the links,
//     the held messages, the logs;
//   - `trace` events (the nodes' trace records): a dot per message, launched when its receipt
//     (`recv`, paired with its `send` by (from, seq)) is seen, a fading one for a `drop`, a
//     `discard`, or a send with no receipt in time;
//   - GET /api/timeline on "replay": the timeline page's data, replayed at the slider's time.
// `window.raftlabUi` exposes what is drawn for the browser test (tests/browser/check_ui.mjs).
#pragma once

namespace raftlab::ui {

inline constexpr char kUiJs[] = R"JS(
(function(){
'use strict';
const kFlyMs=400;            // a dot's flight: loopback takes < 1 ms, too short to see
const kDotsMax=80;           // dots on screen at most (the oldest go first)
const kHeartbeatGapMs=300;   // one heartbeat dot per link at most in this time
const kPendingMax=4096;      // sends waiting for their receipt
const kNoReceiptMs=1500;     // a send with no receipt by then is drawn lost
const kFadeMs=900;           // a lost or dropped dot fades in this time
const kRecentMax=2048;       // receipts remembered, for a send seen after its receipt
const kHeldDrawnPerLink=8;   // squares drawn per link; the list shows all
const kHeldListMax=200;      // rows in the held list
const kActionsShownMax=8;    // recent CLI actions listed
const kFlightsKept=200;      // dots launched, kept for the test
const kLogEntriesMax=40,LOG_BOX_W=22,LOG_ROW_H=34,LOG_PROGRESS_H=26,LOG_LABEL_W=100;
const CX=300,CY=245,RING_R=175,NODE_R=30,TIMER_R=38,HELD_SIZE=9;
const ROLE_COLOR={leader:'#5dbb6d',candidate:'#f3b25b',precandidate:'#fbe3a0',follower:'#cfdcf2',
 learner:'#ddd0f0'};
const ROLE_CODES=['follower','precandidate','candidate','leader','learner'];  // the timeline's codes
const FAMILY_COLOR={vote:'#e8590c',append:'#1c7ed6',snapshot:'#9c36b5',heartbeat:'#8fbf9f',other:'#0b7285'};
const TYPES=['RequestVote','PreVote','AppendEntries','Heartbeat','InstallSnapshot','TimeoutNow','ReadIndex',
 'RequestVoteResponse','PreVoteResponse','AppendEntriesResponse','HeartbeatResponse',
 'InstallSnapshotResponse','ReadIndexResponse'];
const $=id=>document.getElementById(id);
const family=t=>/^(PreVote|RequestVote|TimeoutNow)/.test(t)?'vote':/^AppendEntries/.test(t)?'append':
 /^InstallSnapshot/.test(t)?'snapshot':/^Heartbeat/.test(t)?'heartbeat':'other';
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const S=window.raftlabUi={ready:false,connected:false,mode:'live',states:0,traceRecords:0,skipped:0,
 thinned:0,nodes:[],leaders:[],dots:[],dotsStarted:0,flights:[],held:[],faults:null,lastAction:null,
 replayTime:null};
let state=null,stateAt=0;  // the last state document, and performance.now() when it came
const pending=new Map();   // "from.seq" -> {t, rec}: sends waiting for their receipt
const received=new Map();  // "from.seq" of receipts seen (a late send is then not "lost")
const lastBeat=new Map();  // "from>to" -> when its last heartbeat dot started
let dots=[];               // {from, to, type, t0, kind: fly|drop|discard}
let replay=null;           // {D, LG, msgs, t, playing} off live
let menuFor=null;

// ---- geometry --------------------------------------------------------------------------------
function ids(){if(S.mode==='replay'&&replay)return replay.D.nodes.slice();
 return state?state.nodes.map(n=>n.id):[];}
function pos(id){const all=ids(),k=all.indexOf(id);if(k<0)return null;
 const a=-Math.PI/2+2*Math.PI*k/all.length;return {x:CX+RING_R*Math.cos(a),y:CY+RING_R*Math.sin(a)};}
// The point at fraction f of the way from a's edge to b's edge.
function along(a,b,f){const p=pos(a),q=pos(b);if(!p||!q)return null;const dx=q.x-p.x,dy=q.y-p.y,l=Math.hypot(dx,dy)||1;
 const s=(TIMER_R+4)/l,e=1-s,u=s+(e-s)*f;return {x:p.x+dx*u,y:p.y+dy*u,nx:-dy/l,ny:dx/l};}
function toClient(p){const m=$('ring').getScreenCTM();return {x:m.a*p.x+m.c*p.y+m.e,y:m.b*p.x+m.d*p.y+m.f};}
function toSvg(cx,cy){const m=$('ring').getScreenCTM().inverse();return {x:m.a*cx+m.c*cy+m.e,y:m.b*cx+m.d*cy+m.f};}
function segDist(p,a,b){const dx=b.x-a.x,dy=b.y-a.y,l=dx*dx+dy*dy;let u=l?((p.x-a.x)*dx+(p.y-a.y)*dy)/l:0;
 u=Math.max(0,Math.min(1,u));return Math.hypot(a.x+u*dx-p.x,a.y+u*dy-p.y);}

// ---- faults ----------------------------------------------------------------------------------
// Whether messages from a to b meet a cut (a cut rule, or a partition between their groups).
function cutDir(F,a,b){if(!F)return false;if((F.cuts||[]).some(c=>c[0]===a&&c[1]===b))return true;
 const P=F.partition||[];if(!P.length)return false;const g=n=>P.findIndex(x=>x.includes(n));return g(a)!==g(b);}
function linkRules(F,a,b){const out=[];for(const r of (F&&F.links)||[]){
 const m=(set,n)=>!set||!set.length||set.includes(n);if(!m(r.from,a)||!m(r.to,b))continue;const w=[];
 if(r.loss)w.push('loss '+Math.round(r.loss*100)+'%');if(r.delay_ms)w.push('delay '+r.delay_ms+'ms');
 if(r.jitter_ms)w.push('jitter '+r.jitter_ms+'ms');if(r.duplicate)w.push('dup '+Math.round(r.duplicate*100)+'%');
 if(r.reorder)w.push('reorder '+Math.round(r.reorder*100)+'%');if(w.length)out.push(w.join(' '));}return out.join('; ');}
function faultsText(F){if(!F)return '';const w=[];
 if((F.partition||[]).length)w.push('partition '+F.partition.map(g=>'{'+g.join(',')+'}').join(' '));
 for(const c of F.cuts||[])w.push('cut '+c[0]+'->'+c[1]);
 for(const r of F.links||[]){const t=linkRules({links:[r]},(r.from&&r.from[0])||0,(r.to&&r.to[0])||0);
  w.push((r.from&&r.from.length?r.from.join(','):'*')+'->'+(r.to&&r.to.length?r.to.join(','):'*')+' '+t);}
 for(const h of F.holds||[])w.push('hold '+(h.from&&h.from.length?h.from.join(','):'*')+'->'+
  (h.to&&h.to.length?h.to.join(','):'*')+' '+((h.types||[]).join(',')||'all types'));
 return w.length?w.join('\n'):'no faults';}
)JS"
                                R"JS(
// ---- drawing the ring --------------------------------------------------------------------------
function drawLinks(){const all=ids(),F=S.mode==='live'&&state?state.faults:null;let h='';
 for(let i=0;i<all.length;i++)for(let j=i+1;j<all.length;j++){const a=all[i],b=all[j],p=pos(a),q=pos(b);
  h+='<line x1="'+p.x+'" y1="'+p.y+'" x2="'+q.x+'" y2="'+q.y+'" stroke="#ccc" stroke-width="1.5"/>';
  for(const [x,y] of [[a,b],[b,a]]){const m=along(x,y,0.5),e=along(x,y,1),o=3;
   if(cutDir(F,x,y)){h+='<line class="cut" x1="'+(m.x+m.nx*o)+'" y1="'+(m.y+m.ny*o)+'" x2="'+(e.x+e.nx*o)+
    '" y2="'+(e.y+e.ny*o)+'" stroke="#d00" stroke-width="3" stroke-dasharray="6 3"/>';
    const c=along(x,y,0.72);h+='<text x="'+(c.x+c.nx*12)+'" y="'+(c.y+c.ny*12+4)+
    '" font-size="13" fill="#d00" text-anchor="middle">✕</text>';}
   const r=linkRules(F,x,y);if(r){const c=along(x,y,0.62);h+='<text x="'+(c.x+c.nx*14)+'" y="'+(c.y+c.ny*14)+
    '" font-size="10" fill="#c66a00" text-anchor="middle">'+esc(x+'→'+y+' '+r)+'</text>';}}}
 $('linksG').innerHTML=h;}
// A node as drawn: from the live state, or from the trace at the slider's time.
function nodeViews(){if(S.mode==='replay'&&replay)return replayNodes();if(!state)return [];
 return state.nodes.map(n=>({id:n.id,role:n.process==='stopped'?null:n.role,term:n.term,vote:n.vote,
  commit:n.commit,process:n.process,frozen:!!n.timers_frozen,election:n.election,member:n.member,leader:n.leader}));}
function timerArc(n,now){if(n.process!=='running'||n.role==='leader')return '';
 const C=2*Math.PI*TIMER_R,base='<circle r="'+TIMER_R+'" fill="none" stroke="#e4e4e4" stroke-width="5"/>';
 if(n.frozen)return base+'<circle r="'+TIMER_R+'" fill="none" stroke="#7aa7d6" stroke-width="5" stroke-dasharray="3 4"/>'+
  '<text y="'+(-TIMER_R-6)+'" font-size="10" text-anchor="middle" fill="#3b6fa8">timer frozen</text>';
 if(!n.election)return base;const e=n.election;
 const el=Math.min(e.timeout_ms,e.elapsed_ms+(S.mode==='live'?now-stateAt:0)),left=Math.max(0,1-el/Math.max(1,e.timeout_ms));
 return base+'<circle class="timer" r="'+TIMER_R+'" fill="none" stroke="#4a4a4a" stroke-width="5" transform="rotate(-90)" '+
  'stroke-dasharray="'+C+'" stroke-dashoffset="'+(C*(1-left))+'"/>';}
function nodeSvg(n,now){const p=pos(n.id);let fill=ROLE_COLOR[n.role]||'#fff',stroke='#333',dash='',label=n.role||'';
 if(n.process==='stopped'){fill='#bbb';stroke='#777';label='stopped';}
 if(n.process==='paused'){stroke='#8a3ffc';dash=' stroke-dasharray="5 3"';label='paused';}
 if(!n.process&&!n.role){fill='#ddd';label='not known';}
 let h='<g transform="translate('+p.x+','+p.y+')">'+timerArc(n,now)+'<circle r="'+NODE_R+'" fill="'+fill+
  '" stroke="'+stroke+'" stroke-width="2"'+dash+'/>';
 if(n.process==='stopped')h+='<path d="M-14,-14L14,14M14,-14L-14,14" stroke="#555" stroke-width="3"/>';
 if(n.process==='paused')h+='<path d="M-6,-9V9M6,-9V9" stroke="#8a3ffc" stroke-width="4"/>';
 h+='<text y="-5" text-anchor="middle" font-weight="bold" font-size="14">n'+n.id+'</text>'+
  '<text y="12" text-anchor="middle" font-size="12">T'+(n.term==null?'?':n.term)+'</text>'+
  '<text y="'+(TIMER_R+16)+'" text-anchor="middle" font-size="11">'+esc(label)+'</text>'+
  '<text y="'+(TIMER_R+28)+'" text-anchor="middle" font-size="10" fill="#444">vote '+(n.vote==null||n.vote===0?'-':n.vote)+
  ' · commit '+(n.commit==null?'?':n.commit)+'</text></g>';return h;}
function drawNodes(now){const V=nodeViews();$('nodesG').innerHTML=V.map(n=>nodeSvg(n,now)).join('');
 S.nodes=V.map(n=>({id:n.id,role:n.role,term:n.term,process:n.process,frozen:n.frozen,commit:n.commit}));
 S.leaders=V.filter(n=>n.role==='leader'&&n.process!=='stopped'&&n.process!=='paused').map(n=>n.id);}
let heldSpots=[];
function drawHeld(){let h='';heldSpots=[];const per=new Map();
 const H=S.mode==='live'&&state?state.held:[];
 for(const m of H){const k=m.from+'>'+m.to,c=per.get(k)||0;per.set(k,c+1);if(c>kHeldDrawnPerLink)continue;
  const p=along(m.from,m.to,0.04+0.055*c);if(!p)continue;
  if(c===kHeldDrawnPerLink){h+='<text x="'+p.x+'" y="'+(p.y+4)+'" font-size="10">+</text>';continue;}
  h+='<rect class="held" x="'+(p.x-HELD_SIZE/2)+'" y="'+(p.y-HELD_SIZE/2)+'" width="'+HELD_SIZE+'" height="'+HELD_SIZE+
   '" fill="'+FAMILY_COLOR[family(m.type)]+'" stroke="#000" stroke-width="1"/>';heldSpots.push({x:p.x,y:p.y,m:m});}
 $('heldG').innerHTML=h;}
)JS"
                                R"JS(
// ---- dots --------------------------------------------------------------------------------------
function launch(from,to,type,kind,now){if(!pos(from)||!pos(to))return;const fam=family(type);
 if(fam==='heartbeat'&&kind==='fly'){const k=from+'>'+to,l=lastBeat.get(k);
  if(l!==undefined&&now-l<kHeartbeatGapMs){S.thinned++;return;}lastBeat.set(k,now);}
 if(dots.length>=kDotsMax)dots.shift();dots.push({from:from,to:to,type:type,kind:kind,t0:now});S.dotsStarted++;
 S.flights.push({from:from,to:to,type:type,kind:kind,t:now});if(S.flights.length>kFlightsKept)S.flights.shift();}
function dotPlace(d,now){const age=now-d.t0;
 if(d.kind==='fly'){const f=age/kFlyMs;return f>=1?null:{p:along(d.from,d.to,f),o:1,f:f};}
 const stop=d.kind==='discard'?0.02:0.5,fly=stop*kFlyMs,f=Math.min(stop,age/kFlyMs),o=age<fly?1:1-(age-fly)/kFadeMs;
 return o<=0?null:{p:along(d.from,d.to,f),o:o,f:f};}
function dotSvg(d,pl){const c=FAMILY_COLOR[family(d.type)],resp=/Response$/.test(d.type);
 return '<circle cx="'+pl.p.x+'" cy="'+pl.p.y+'" r="'+(resp?4.5:6)+'" fill="'+(resp?'#fff':c)+'" stroke="'+c+
  '" stroke-width="2" opacity="'+pl.o.toFixed(2)+'"/>';}
function drawDots(now){let h='';const live=[],shown=[];
 for(const d of dots){const pl=dotPlace(d,now);if(!pl||!pl.p)continue;live.push(d);h+=dotSvg(d,pl);
  shown.push({from:d.from,to:d.to,type:d.type,kind:d.kind,f:pl.f,x:pl.p.x,y:pl.p.y});}
 dots=live;if(S.mode==='replay'&&replay){const r=replayDots();h+=r.h;shown.push(...r.shown);}
 $('dotsG').innerHTML=h;S.dots=shown;}
// Sends with no receipt in time: the receiver is down, or the connection lost it.
function sweepPending(now){for(const [k,v] of pending){if(now-v.t<kNoReceiptMs)break;pending.delete(k);
 launch(v.rec.from,v.rec.to,v.rec.type,'drop',now);}}
function onTrace(batch){const now=performance.now();
 for(const r of batch.events||[]){S.traceRecords++;const k=r.from+'.'+r.seq;
  if(r.ev==='send'){if(received.has(k))continue;pending.set(k,{t:now,rec:r});
   if(pending.size>kPendingMax)pending.delete(pending.keys().next().value);}
  else if(r.ev==='recv'){pending.delete(k);received.set(k,1);
   if(received.size>kRecentMax)received.delete(received.keys().next().value);launch(r.from,r.to,r.type,'fly',now);}
  else if(r.ev==='hold'){pending.delete(k);}
  else if(r.ev==='drop'){pending.delete(k);launch(r.from,r.to,r.type,'drop',now);}
  else if(r.ev==='discard'){pending.delete(k);launch(r.from,r.to,r.type,'discard',now);}
  else if(r.ev==='ui_skipped'){S.skipped+=r.count||0;}
  else if(r.verb!==undefined){addAction(r);}}}
const recent=[];
function addAction(r){recent.push(r.text||r.verb);if(recent.length>kActionsShownMax)recent.shift();
 $('actions').textContent=recent.slice().reverse().join('\n');}
)JS"
                                R"JS(
// ---- logs ----------------------------------------------------------------------------------------
function sizeCanvas(c,h){const r=window.devicePixelRatio||1,w=c.clientWidth||900;c.width=w*r;c.height=h*r;
 c.style.height=h+'px';const g=c.getContext('2d');g.setTransform(r,0,0,r,0,0);g.clearRect(0,0,w,h);return g;}
function liveLogs(){return state.nodes.map(n=>({id:n.id,role:n.process==='running'?n.role:n.process,
 L:RaftlabLog.fromEntries(n.log||[],n.commit||0,n.last_index||0),applied:n.applied,progress:n.progress||{}}));}
function mark(g,x,y,text,color,filled){g.fillStyle=color;g.strokeStyle=color;g.beginPath();g.moveTo(x+LOG_BOX_W/2-1,y);
 g.lineTo(x+LOG_BOX_W/2-5,y+6);g.lineTo(x+LOG_BOX_W/2+3,y+6);g.closePath();if(filled)g.fill();else g.stroke();
 g.font='9px system-ui';g.fillText(text,x+LOG_BOX_W/2+4,y+7);}
// The leader's view of its followers under its row: at each index, the followers whose match
// (filled, "m", first line) or next (hollow, "n", second line) it is; off the row, at its ends.
function progressMarks(g,row,xs,y){if(!xs.size)return;const lo=Math.min(...xs.keys()),hi=Math.max(...xs.keys());
 const at=new Map();const add=(i,kind,id)=>{const c=Math.max(lo-1,Math.min(hi+1,i)),k=c+kind;
  if(!at.has(k))at.set(k,{i:c,kind:kind,ids:[]});at.get(k).ids.push(id);};
 for(const id of Object.keys(row.progress)){add(row.progress[id].match,'m',id);add(row.progress[id].next,'n',id);}
 for(const v of at.values()){const x=xs.has(v.i)?xs.get(v.i):v.i<lo?LOG_LABEL_W-LOG_BOX_W:xs.get(hi)+LOG_BOX_W;
  mark(g,x,v.kind==='n'?y+12:y,v.kind+v.ids.join(','),v.kind==='m'?'#2f6f3f':'#a0522d',v.kind==='m');}}
function drawLogs(){const rows=S.mode==='replay'&&replay?replayLogs():state?liveLogs():[];
 const hs=rows.map(r=>LOG_ROW_H+(Object.keys(r.progress).length?LOG_PROGRESS_H:0));
 const g=sizeCanvas($('logs'),hs.reduce((a,b)=>a+b,0)+6);let y=3;const txt=[];
 rows.forEach((r,i)=>{g.fillStyle='#222';g.font='bold 12px system-ui';g.fillText('n'+r.id,6,y+18);
  g.font='10px system-ui';g.fillText(r.role||'',26,y+18);
  const d=RaftlabLog.drawRow(g,r.L,LOG_LABEL_W,y,LOG_BOX_W,LOG_ROW_H,kLogEntriesMax);
  if(r.applied!=null&&d.xs.has(r.applied)){g.fillStyle='#1c7ed6';g.fillRect(d.xs.get(r.applied),y+LOG_BOX_W+1,LOG_BOX_W-2,3);}
  if(Object.keys(r.progress).length)progressMarks(g,r,d.xs,y+LOG_ROW_H+2);
  txt.push('n'+r.id+' last='+r.L.last+' commit='+r.L.commit);y+=hs[i];});S.logText=txt.join('; ');}
)JS"
                                R"JS(
// ---- replay: the timeline page's data at the slider's time --------------------------------------
// The last role band ends at the trace's last record: the slider's end is still in it.
function replayNodes(){const D=replay.D,t=Math.min(replay.t,D.t1-1);return D.nodes.map((id,i)=>{const b=RaftlabLog.bandAt(D.lanes[i].r,t);
 const L=RaftlabLog.logAt(D.lanes[i].g,replay.LG[i].t,t);
 return {id:id,role:b?ROLE_CODES[b.role]:null,term:b?b.term:null,vote:null,commit:L.commit,
  process:b?'running':null,frozen:false,election:null};});}
function replayLogs(){const D=replay.D;return D.nodes.map((id,i)=>{const b=RaftlabLog.bandAt(D.lanes[i].r,Math.min(replay.t,D.t1-1));
 return {id:id,role:b?ROLE_CODES[b.role]:'not known',L:RaftlabLog.logAt(D.lanes[i].g,replay.LG[i].t,replay.t),
  applied:null,progress:{}};});}
// The messages sent in the last kFlyMs before the slider's time, each at its point of flight.
function replayDots(){const D=replay.D,M=D.m,X=replay.msgs,t=replay.t,fly=kFlyMs*1000;let h='';const shown=[];
 const lo=RaftlabLog.firstAt(X.ms,t-fly),hi=RaftlabLog.firstAt(X.ms,t+1);
 for(let i=Math.max(lo,hi-kDotsMax);i<hi;i++){const a=M.a[i],b=M.b[i];if(a<0||b<0)continue;
  const d={from:D.nodes[a],to:D.nodes[b],type:M.types[M.y[i]],kind:M.f[i]?'drop':'fly'},f=(t-X.ms[i])/fly;
  const pl={p:along(d.from,d.to,M.f[i]?Math.min(f,0.5):f),o:M.f[i]?Math.max(0.2,1-f):1,f:f};if(!pl.p)continue;
  h+=dotSvg(d,pl);shown.push({from:d.from,to:d.to,type:d.type,kind:d.kind,f:f,x:pl.p.x,y:pl.p.y});}
 return {h:h,shown:shown};}
function replayFaults(){const D=replay.D,t=replay.t;return D.faults.bands.filter(b=>b.from<=t&&t<b.to)
 .map(b=>b.text).join('\n')||'no faults then';}
function setReplayTime(t){if(!replay)return;replay.t=Math.max(0,Math.min(replay.D.t1,t));
 $('slider').value=String(Math.round(replay.t));S.replayTime=replay.t;
 $('sliderTime').textContent=(replay.t/1e6).toFixed(3)+' s of '+(replay.D.t1/1e6).toFixed(3)+' s';
 $('faultsText').textContent=replayFaults();drawLinks();drawLogs();drawNodes(performance.now());}
async function startReplay(){closeMenu();const r=await fetch('/api/timeline');if(!r.ok){showOut('replay: /api/timeline answered '+r.status,false);return;}
 const D=await r.json();replay={D:D,LG:D.lanes.map(L=>RaftlabLog.decodeSteps(L.g)),msgs:RaftlabLog.decodeMessages(D.m),
  t:D.t1,playing:false};S.mode='replay';S.replayMarks=D.faults.marks;S.replayEnd=D.t1;const sl=$('slider');sl.max=String(Math.max(1,D.t1));sl.disabled=false;
 $('play').disabled=false;$('mode').textContent='replay';$('mode').className='replay';setReplayTime(D.t1);}
function goLive(){replay=null;S.mode='live';S.replayTime=null;$('slider').disabled=true;$('play').disabled=true;
 $('mode').textContent='live';$('mode').className='';$('sliderTime').textContent='';if(state)onState(state);}
)JS"
                                R"JS(
// ---- actions ---------------------------------------------------------------------------------------
function showOut(text,ok){$('out').textContent=text;$('out').className=ok?'':'fail';}
async function act(body){closeMenu();const what=JSON.stringify(body);showOut('running '+what+' …',true);
 S.lastAction={request:body,pending:true};let r,doc;
 try{r=await fetch('/api/action',{method:'POST',headers:{'Content-Type':'application/json'},body:what});doc=await r.json();}
 catch(e){showOut(what+': '+e,false);S.lastAction={request:body,error:String(e)};return;}
 S.lastAction=Object.assign({request:body,status:r.status},doc);
 if(r.status!==200||doc.error!==undefined){showOut(what+': '+(doc.error||r.status),false);return;}
 showOut(body.verb+' → exit '+doc.exit+'\n'+(doc.output||''),doc.ok);}
function closeMenu(){$('menu').style.display='none';menuFor=null;}
function openMenu(p,title,items){const m=$('menu');m.innerHTML='<b>'+esc(title)+'</b>';
 for(const [label,body] of items){const b=document.createElement('button');b.textContent=label;b.dataset.verb=body.verb;
  if(body.one_way)b.dataset.oneWay='1';b.onclick=ev=>{ev.stopPropagation();act(body);};m.append(b);}
 m.style.left=(p.x+10)+'px';m.style.top=(p.y+10)+'px';m.style.display='block';}
function nodeMenu(n,p){const v=[],id=n.id,N={node:id};const it=(l,verb)=>v.push([l,Object.assign({verb:verb},N)]);
 if(n.process==='stopped')it('start','start');
 else{it('kill','kill');it(n.process==='paused'?'resume':'pause',n.process==='paused'?'resume':'pause');
  it('isolate','isolate');if(n.role!=='leader')it('campaign now','campaign');
  it(n.frozen?'thaw timer':'freeze timer',n.frozen?'thaw':'freeze');if(n.role!=='leader')it('transfer leadership here','transfer');}
 openMenu(p,'node '+id+' ('+(n.process==='running'?n.role||'?':n.process)+')',v);menuFor={node:id};}
function linkMenu(a,b,p){openMenu(p,'link '+a+' – '+b,[['cut both ways',{verb:'cut',from:a,to:b,one_way:false}],
 ['cut '+a+' → '+b+' only',{verb:'cut',from:a,to:b,one_way:true}],['cut '+b+' → '+a+' only',{verb:'cut',from:b,to:a,one_way:true}],
 ['heal this link',{verb:'heal-link',from:a,to:b}]]);menuFor={link:[a,b]};}
function heldMenu(m,p){openMenu(p,'held '+m.id+': '+m.from+'→'+m.to+' '+m.type,[['deliver',{verb:'deliver',ids:[m.id]}],
 ['drop',{verb:'drop',ids:[m.id]}]]);menuFor={held:m.id};}
// A click on the ring: the held message, node or link under it (in that order).
function onRingClick(ev){if(S.mode!=='live'||!state)return;const q=toSvg(ev.clientX,ev.clientY);
 const st=$('stage').getBoundingClientRect(),p={x:ev.clientX-st.left,y:ev.clientY-st.top};
 for(const h of heldSpots)if(Math.abs(h.x-q.x)<=HELD_SIZE/2+2&&Math.abs(h.y-q.y)<=HELD_SIZE/2+2)return heldMenu(h.m,p);
 for(const n of nodeViews()){const c=pos(n.id);if(Math.hypot(c.x-q.x,c.y-q.y)<=TIMER_R)return nodeMenu(n,p);}
 const all=ids();let best=null,bd=8;
 for(let i=0;i<all.length;i++)for(let j=i+1;j<all.length;j++){const d=segDist(q,pos(all[i]),pos(all[j]));
  if(d<bd){bd=d;best=[all[i],all[j]];}}
 if(best)return linkMenu(best[0],best[1],p);closeMenu();}
)JS"
                                R"JS(
// ---- live state ---------------------------------------------------------------------------------------
// A held message's fields as `msgs` prints them (lli=7 llt=3; prev=5/3).
function fieldsText(f){if(!f)return '';if(typeof f!=='object')return String(f);
 return Object.keys(f).map(k=>k+'='+(Array.isArray(f[k])?f[k].join('/'):JSON.stringify(f[k]))).join(' ');}
function heldList(){const H=state.held||[];$('heldCount').textContent=H.length+' held';let h='';
 for(const m of H.slice(0,kHeldListMax))h+='<div><button data-deliver="'+esc(m.id)+'">deliver</button><button data-drop="'+
  esc(m.id)+'">drop</button> '+esc(m.id+' '+m.from+'->'+m.to+' '+m.type+' t'+m.term+' '+fieldsText(m.fields))+'</div>';
 if(H.length>kHeldListMax)h+='<div>… '+(H.length-kHeldListMax)+' more</div>';
 if($('heldList').dataset.key!==h){$('heldList').innerHTML=h;$('heldList').dataset.key=h;}}
function fillSelects(){const all=state.nodes.map(n=>n.id),key=all.join(',');if($('holdFrom').dataset.key===key)return;
 for(const s of ['holdFrom','holdTo']){$(s).innerHTML='<option value="">any</option>'+all.map(i=>'<option>'+i+'</option>').join('');
  $(s).dataset.key=key;}
 $('holdType').innerHTML='<option value="">any</option>'+TYPES.map(t=>'<option>'+t+'</option>').join('');}
function onState(doc){state=doc;stateAt=performance.now();S.states++;S.held=(doc.held||[]).map(m=>m.id);S.faults=doc.faults;
 $('cluster').textContent=(doc.cluster_id||'')+'  '+(doc.dir||'');fillSelects();
 if(S.mode==='live'){heldList();$('faultsText').textContent=faultsText(doc.faults);drawLinks();drawLogs();}
 S.ready=true;}
function frame(){const now=performance.now();sweepPending(now);
 if(replay&&replay.playing){const dt=(now-replay.last)*1000;replay.last=now;setReplayTime(replay.t+dt);
  if(replay.t>=replay.D.t1)togglePlay();}
 drawNodes(now);drawHeld();drawDots(now);requestAnimationFrame(frame);}
function togglePlay(){if(!replay)return;replay.playing=!replay.playing;replay.last=performance.now();
 $('play').textContent=replay.playing?'pause':'play';}
function connect(){const es=new EventSource('/api/events');
 es.addEventListener('open',()=>{S.connected=true;$('conn').textContent='live';$('conn').className='';});
 es.addEventListener('error',()=>{S.connected=false;$('conn').textContent='disconnected: retrying';$('conn').className='bad';});
 es.addEventListener('state',e=>onState(JSON.parse(e.data)));
 es.addEventListener('trace',e=>onTrace(JSON.parse(e.data)));}
function legend(){const L=$('legend');const sw=(c,t)=>L.insertAdjacentHTML('beforeend',
 '<span><span class="sw" style="background:'+c+'"></span>'+t+'</span>');
 for(const r of Object.keys(ROLE_COLOR))sw(ROLE_COLOR[r],r);sw('#bbb','stopped');
 for(const f of Object.keys(FAMILY_COLOR))sw(FAMILY_COLOR[f],f+' message');
 L.insertAdjacentHTML('beforeend','<span>grey ring: election timer left · filled dot: request, hollow: response · '+
  'red dashes: a cut (on the receiver\'s half) · logs: bar = commit, blue = applied, m/n = the leader\'s match/next</span>');}
function wire(){$('ring').addEventListener('click',onRingClick);
 document.addEventListener('keydown',e=>{if(e.key==='Escape')closeMenu();});
 $('heal').onclick=()=>act({verb:'heal'});
 $('partition').onclick=()=>{const groups=$('groups').value.trim().split(/\s+/).filter(Boolean)
  .map(g=>g.split(',').map(Number));if(!groups.length||groups.some(g=>g.some(n=>!Number.isInteger(n)||n<=0)))
  return showOut('partition: groups like 1,2 3,4,5',false);act({verb:'partition',groups:groups});};
 $('put').onclick=()=>{const k=$('putKey').value,v=$('putValue').value;if(!k)return showOut('put: a key, please',false);
  act({verb:'put',key:k,value:v});};
 $('hold').onclick=()=>{const b={verb:'hold'};if($('holdFrom').value)b.from=Number($('holdFrom').value);
  if($('holdTo').value)b.to=Number($('holdTo').value);if($('holdType').value)b.type=$('holdType').value;act(b);};
 $('release').onclick=()=>act({verb:'release'});
 $('deliverAll').onclick=()=>{if(S.held.length)act({verb:'deliver',ids:S.held.slice()});};
 $('dropAll').onclick=()=>{if(S.held.length)act({verb:'drop',ids:S.held.slice()});};
 $('heldList').addEventListener('click',e=>{const t=e.target;if(t.dataset.deliver)act({verb:'deliver',ids:[t.dataset.deliver]});
  else if(t.dataset.drop)act({verb:'drop',ids:[t.dataset.drop]});});
 $('replay').onclick=()=>startReplay();$('live').onclick=goLive;$('play').onclick=togglePlay;
 $('slider').addEventListener('input',()=>{if(replay){replay.playing=false;$('play').textContent='play';
  setReplayTime(Number($('slider').value));}});
 window.addEventListener('resize',()=>drawLogs());}
S.nodePoint=id=>{const p=pos(id);return p?toClient(p):null;};
S.linkPoint=(a,b)=>{const p=along(a,b,0.5);return p?toClient(p):null;};
S.heldPoint=id=>{const h=heldSpots.find(s=>s.m.id===id);return h?toClient(h):null;};
S.act=act;S.startReplay=startReplay;S.goLive=goLive;S.setReplayTime=setReplayTime;
legend();wire();connect();requestAnimationFrame(frame);
})();
)JS";

}  // namespace raftlab::ui
