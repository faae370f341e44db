/* The device's position now, for reporting (使用当前位置) and on-site check-in (到场报到): never a
 * cached fix (an officer who just arrived must not be judged on where they were 30 s ago), and a
 * refusal in words a grid worker understands. */

const POSITION_OPTIONS = { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 };

export function currentPosition() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error('此浏览器不能定位')); return; }
    navigator.geolocation.getCurrentPosition((p) => resolve(p.coords), (err) => {
      reject(new Error(err.code === 1 ? '没有定位权限：请在浏览器中允许定位（需要 HTTPS 访问）'
                                      : '无法获取当前位置：' + (err.message || '定位超时')));
    }, POSITION_OPTIONS);
  });
}
