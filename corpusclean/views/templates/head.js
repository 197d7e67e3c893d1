window.__reportErrors=0;window.addEventListener("error",function(){window.__reportErrors++;
if(document.body){document.body.dataset.jsErrors=String(window.__reportErrors);}},true);
